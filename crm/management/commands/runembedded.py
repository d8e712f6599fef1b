"""`manage.py runembedded`: Django's development server plus the periodic jobs (`make run`).

Without a broker (REDIS_URL unset: the embedded setup) there is no Celery beat, so the
process that serves also runs CELERY_BEAT_SCHEDULE in a thread (crm.scheduler); tasks run
in-process. With a broker, Celery beat runs the jobs and this serves like `runserver`.
Options are runserver's. The scheduler starts in the process that serves, once it listens
(the autoreloader's child, restarted with it), so the jobs never run twice.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.commands.runserver import Command as RunserverCommand

from crm.celery import app
from crm.scheduler import EmbeddedScheduler


class Command(RunserverCommand):
    help = (
        "Serve like runserver and, without a broker, run every periodic job "
        "(CELERY_BEAT_SCHEDULE) in-process."
    )

    scheduler: EmbeddedScheduler | None = None

    def inner_run(self, *args: Any, **options: Any) -> None:
        if not app.conf.task_always_eager:
            self.stdout.write("A broker is configured: Celery beat runs the periodic jobs.")
        try:
            super().inner_run(*args, **options)
        finally:
            if self.scheduler is not None:
                self.scheduler.stop()

    def on_bind(self, server_port: int) -> None:
        """Once the server listens (a busy port ends the process before any job starts)."""
        super().on_bind(server_port)
        if not app.conf.task_always_eager or self.scheduler is not None:
            return
        self.scheduler = EmbeddedScheduler(app=app, schedule=settings.CELERY_BEAT_SCHEDULE)
        self.scheduler.start()
        names = ", ".join(job.name for job in self.scheduler.jobs)
        self.stdout.write(f"No broker: periodic jobs run in this process ({names}).")
