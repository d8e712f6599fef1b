"""Voronka's core: settings, URLs, the Celery app, tenancy, users, roles and the timeline."""

from crm.celery import app as celery_app

__all__ = ["celery_app"]
