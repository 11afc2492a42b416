"""A job worker for tests/test_job_worker.py: `python tests/job_worker.py CONFIG [SLOW_SECONDS]`.

Runs what `practicum worker` runs, on the app built from the JSON config; with SLOW_SECONDS,
each grading first waits that long, so that the test can kill the worker while it grades.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

from training_platform import attempts_service, create_app, jobs


def main() -> None:
    """Start the worker the arguments describe."""
    config = json.loads(Path(sys.argv[1]).read_text())
    slow = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
    if slow:
        grade = attempts_service.grade_pinned

        def slow_grade(*args, **kwargs):
            time.sleep(slow)
            return grade(*args, **kwargs)

        attempts_service.grade_pinned = slow_grade
    logging.basicConfig(level=logging.INFO)
    jobs.run_worker(create_app(config), workers=1)


if __name__ == "__main__":
    main()
