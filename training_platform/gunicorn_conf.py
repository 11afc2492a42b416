"""Gunicorn settings for `scripts/start.sh`: sized from the CPU count, overridable by env vars.

PORT (5000), PRACTICUM_BIND (127.0.0.1:$PORT), PRACTICUM_WORKERS (the CPU count, at least 2),
PRACTICUM_THREADS (4 per worker), PRACTICUM_TIMEOUT (120 s).
"""

from __future__ import annotations

import os


def _int_env(name: str, default: int) -> int:
    """A positive whole number from the environment, or the default."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    number = int(value)
    if number < 1:
        raise ValueError(f"{name} must be at least 1, not {value}")
    return number


bind = os.environ.get("PRACTICUM_BIND") or f"127.0.0.1:{_int_env('PORT', 5000)}"
workers = _int_env("PRACTICUM_WORKERS", max(2, os.cpu_count() or 1))
threads = _int_env("PRACTICUM_THREADS", 4)
worker_class = "gthread"
timeout = _int_env("PRACTICUM_TIMEOUT", 120)
graceful_timeout = 30
accesslog = "-"
errorlog = "-"
# The default already leaves the version out of the Server header; no other header names it.
proc_name = "practicum"
# Gunicorn 25.1+ opens a control socket at one fixed path per user, which a second server on the
# same machine (or the test that starts one) would fight over; nothing here uses it.
control_socket_disable = True
