"""Graders: the check registry and built-in checks, the PDPO rulebook and the grading engine.

``graders.engine.grade_attempt`` grades an attempt's sandbox against its template;
``graders.registry`` holds the check types and PDPO rules, loaded from the modules listed in
``BUILTIN_MODULES``; ``graders.results`` defines what grading returns. This package never
imports Flask: the platform calls it, not the other way round.
"""
