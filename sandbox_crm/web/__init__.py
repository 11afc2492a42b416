"""The sandbox CRM's web UI: a Flask blueprint the platform mounts under each attempt.

The platform owns users, attempts and access control. It calls ``register(app, resolver)``;
for every CRM request the resolver turns the attempt id in the URL into a ``CrmContext`` (the
sandbox session, the staff user the trainee acts as, whether the sandbox is read-only), or
aborts with 403/404 itself. Views change data only through ``sandbox_crm.operations``.
"""

from __future__ import annotations

from sandbox_crm.web import customers, home, orders, reports  # noqa: F401  (registers the views)
from sandbox_crm.web.core import READ_ONLY_MESSAGE, CrmContext, Resolver, bp, register

__all__ = ["READ_ONLY_MESSAGE", "CrmContext", "Resolver", "bp", "register"]
