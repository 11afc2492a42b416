"""The sandbox store the platform uses: today the SQLite-file backend.

``SandboxStore`` is the name the platform and scripts construct; code that only uses sandboxes
should type against ``sandbox_crm.backends.SandboxBackend``.
"""

from __future__ import annotations

from sandbox_crm.backends import (
    SandboxBackend,
    SandboxExists,
    SandboxFrozen,
    SandboxNotFound,
    TemplateNotFound,
)
from sandbox_crm.backends.sqlite_files import (
    TEMPLATE_KEY_RE,
    SqliteFileBackend,
    create_schema,
    validate_key,
)

__all__ = [
    "TEMPLATE_KEY_RE",
    "SandboxBackend",
    "SandboxExists",
    "SandboxFrozen",
    "SandboxNotFound",
    "SandboxStore",
    "TemplateNotFound",
    "create_schema",
    "validate_key",
]

SandboxStore = SqliteFileBackend
"""The backend the platform creates (see ``training_platform.sandboxes.get_store``)."""
