"""The app served on a free local port with the demo accounts and the built-in definitions.

For the browser tests and the screenshot script, which drive a real browser against it; not a
way to run the platform.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from werkzeug.serving import make_server

from training_platform import create_app, definitions_store
from training_platform.commands.demo import seed_demo_accounts
from training_platform.db import get_engine, new_session, upgrade_database


@contextmanager
def served_demo(config: Mapping[str, Any]) -> Iterator[str]:
    """Serve the app made with ``config`` on 127.0.0.1 in a thread; yield its base URL.

    The database is migrated, the demo accounts seeded and the built-in definitions synced
    before the first request; the server is stopped and the engine disposed afterwards.
    """
    app = create_app(dict(config))
    upgrade_database(app)
    session = new_session(app)
    try:
        seed_demo_accounts(session)
        definitions_store.sync_builtin(session, app.config["DEFINITIONS_ROOT"])
        session.commit()
    finally:
        session.close()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        get_engine(app).dispose()
