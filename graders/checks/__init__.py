"""Built-in check types, one module per area; each registers its checks with ``@check``.

The modules are loaded by ``graders.registry.load_builtin`` (see ``BUILTIN_MODULES``).
"""
