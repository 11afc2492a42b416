"""The sandbox CRM's web UI: a Flask blueprint the platform mounts under each attempt.

The platform owns users, attempts and access control. It calls ``register(app, resolver)``;
for every CRM request the resolver turns the attempt id in the URL into a ``CrmContext`` (the
sandbox session, the staff user the trainee acts as, whether the sandbox is read-only), or
aborts with 403/404 itself. Views change data only through the areas' operations. The core
(layout, macros, filter bar, request handling) lives here; each CRM area's package adds its
own pages (``views``) and templates.
"""

from __future__ import annotations

import importlib

from sandbox_crm.areas import view_modules
from sandbox_crm.web import home  # noqa: F401  (registers the home page)
from sandbox_crm.web.core import READ_ONLY_MESSAGE, CrmContext, Resolver, bp, register

for _module in view_modules():  # each enabled area adds its pages to the blueprint
    importlib.import_module(_module)

__all__ = ["READ_ONLY_MESSAGE", "CrmContext", "Resolver", "bp", "register"]
