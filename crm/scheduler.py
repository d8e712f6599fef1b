"""The periodic jobs of the embedded setup: Celery beat's schedule, run in-process.

`make run` without REDIS_URL has no broker, hence no Celery beat and no worker: tasks run
in-process (CELERY_TASK_ALWAYS_EAGER). `manage.py runembedded` starts this scheduler in a
thread of the process that serves (never from AppConfig.ready(), middleware or a request:
STYLE §5). It runs each entry of CELERY_BEAT_SCHEDULE on its schedule and the entry's task
in-process, as a worker would: the sweeper, reminders, escalation and the purges keep their
one definition. Unlike beat, every job also runs once at start (what was due while the
server was stopped), then on its interval.
docs/decisions/010-embedded-periodic-jobs.md says why.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from celery import Celery
from celery.schedules import BaseSchedule, maybe_schedule
from django.core.exceptions import ImproperlyConfigured
from django.db import close_old_connections, connections

logger = logging.getLogger(__name__)

# The longest the scheduler sleeps between looks at its jobs (how soon it notices a stop).
MAX_SLEEP = 5.0


@dataclass
class Job:
    """One beat entry and when it last ran (None: not yet, so it is due)."""

    name: str
    task: str
    schedule: BaseSchedule
    args: tuple = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    last_run_at: datetime | None = None

    def due_in(self) -> float:
        """Seconds until the job is due; 0 when it is."""
        if self.last_run_at is None:
            return 0.0
        due, next_in = self.schedule.is_due(self.last_run_at)
        return 0.0 if due else max(float(next_in), 0.0)


class EmbeddedScheduler:
    """Runs the beat schedule's tasks in-process, in one thread, one job at a time."""

    def __init__(self, *, app: Celery, schedule: dict[str, dict[str, Any]]) -> None:
        """`schedule` is in CELERY_BEAT_SCHEDULE's format. Raises ImproperlyConfigured when
        tasks go to a broker: then Celery beat runs the jobs, and this would run them twice."""
        if not app.conf.task_always_eager:
            raise ImproperlyConfigured("A broker is configured: Celery beat runs the jobs.")
        self.app = app
        app.loader.import_default_modules()  # the apps' tasks modules, as beat imports them
        self.jobs = [
            Job(
                name=name,
                task=entry["task"],
                schedule=maybe_schedule(entry["schedule"], app=app),
                args=tuple(entry.get("args", ())),
                kwargs=dict(entry.get("kwargs", {})),
            )
            for name, entry in schedule.items()
        ]
        unknown = sorted(job.task for job in self.jobs if job.task not in app.tasks)
        if unknown:
            raise ImproperlyConfigured(f"Unknown tasks in the beat schedule: {unknown}")
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Run the jobs in a daemon thread until `stop()` or the process ends (the
        autoreloader's restart, Ctrl-C): a job cut short then rolls back with its
        transaction and runs again at the next start, as every job does."""
        self._thread = threading.Thread(target=self._loop, name="embedded-scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the thread to stop once the job it runs (if any) is done, and wait for it."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        try:
            while not self._stopping.is_set():
                try:
                    pause = self.tick()
                except Exception:  # the schedule itself failed: keep the thread alive
                    logger.exception("The periodic jobs' schedule failed; trying again.")
                    pause = MAX_SLEEP
                self._stopping.wait(pause)
        finally:
            connections.close_all()  # this thread's own connections

    def tick(self) -> float:
        """Run every job that is due, in schedule order; seconds until one is due again."""
        for job in self.jobs:
            if self._stopping.is_set():
                break
            if job.due_in() == 0:
                self.run(job)
        return min([MAX_SLEEP, *(job.due_in() for job in self.jobs)])

    def run(self, job: Job) -> None:
        """Run one job's task now, in-process. A failure is logged and the job runs again on
        its schedule, as with beat: one bad run must not stop the periodic jobs."""
        job.last_run_at = job.schedule.now()
        try:
            close_old_connections()  # as around a request: a broken or too old one goes
            self.app.tasks[job.task].apply_async(args=job.args, kwargs=job.kwargs)
        except Exception:
            logger.exception("Periodic job %s failed; it runs again on its schedule.", job.name)
        finally:
            close_old_connections()
