"""Long jobs (an import, a large export) started from a request, with or without a broker.

With a broker, `start_long` queues the task after the transaction commits, as any task.
Without one (the embedded setup of `make run`: CELERY_TASK_ALWAYS_EAGER), an eager task
would run inside the request and hold it for minutes; the task runs instead in a daemon
thread of the serving process, after commit, with its own database connection. A job that
a stopped server left half-done is picked up again by its app's periodic resume task,
which both setups run (beat and the embedded scheduler). Tests set BACKGROUND_INLINE to
run it at once, in the thread that commits.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from celery import Task
from django.conf import settings
from django.db import close_old_connections, connections, transaction

logger = logging.getLogger(__name__)


def _run_in_thread(task: Task, kwargs: dict[str, Any]) -> None:
    close_old_connections()
    try:
        task.apply(kwargs=kwargs, throw=False)
    except Exception:  # the task records its own failure; this only keeps the thread quiet
        logger.exception("%s failed in the background.", task.name)
    finally:
        connections.close_all()


def start_long(task: Task, **kwargs: Any) -> None:
    """Run `task(**kwargs)` in the background once the current transaction commits: on a
    worker, or in a thread of this process when there is no broker."""

    def start() -> None:
        if task.app.conf.task_always_eager and settings.BACKGROUND_INLINE:
            task.apply(kwargs=kwargs, throw=False)  # tests: at once, in this thread
        elif task.app.conf.task_always_eager:
            thread = threading.Thread(
                target=_run_in_thread, args=(task, kwargs), name=f"long:{task.name}", daemon=True
            )
            thread.start()
        else:
            try:
                task.apply_async(kwargs=kwargs)
            except Exception:  # a broker outage must not fail what committed; the app's
                # periodic resume task (imports, exports) or next pass starts it later
                logger.warning("Could not queue %s %s.", task.name, kwargs, exc_info=True)

    transaction.on_commit(start)


def start_named(name: str, **kwargs: Any) -> None:
    """start_long for the task named `name` ("<module>.<function>"): a module that the
    task's own module imports starts it so, without importing it back."""
    from crm.celery import task_named

    start_long(task_named(name), **kwargs)
