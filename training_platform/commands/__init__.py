"""Command-line commands of the `practicum` tool, one module per area.

Each module listed here exposes `register(app)`, which adds its commands to `app.cli`
(so that they run inside an app context, also under Flask's test CLI runner).
"""

from __future__ import annotations

import importlib

from flask import Flask

COMMAND_MODULES = [
    "training_platform.commands.db",
    "training_platform.commands.demo",
    "training_platform.commands.definitions",
    "training_platform.commands.sandboxes",
    "training_platform.commands.users",
    "training_platform.commands.jobs",
    "training_platform.commands.classes",
    "training_platform.commands.upgrades",
]


def init_app(app: Flask) -> None:
    """Register the commands of every listed module."""
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(app)
