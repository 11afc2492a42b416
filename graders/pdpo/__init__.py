"""The PDPO rulebook (../shared/PDPO.md) as graders: one module per family of rules.

Every rule id of the rulebook is registered, as ``pdpo.<id>``; rules the sandbox cannot observe
yet report "not applicable" with their reason. The engine runs every rule on every attempt.
"""
