"""Queue a lead's score recomputation after commit (leads/qualification.py computes it)."""

from __future__ import annotations

import logging

from django.db import transaction

from crm.celery import task_named
from leads.models import Lead

logger = logging.getLogger(__name__)
# Named, not imported: the task's module imports the services that call this.
RESCORE_TASK = "leads.tasks.lead_rescore_task"


def rescore_later(lead: Lead) -> None:
    """Queue the lead's recomputation in the worker once the current transaction commits;
    a lost publish (broker down) is caught up by the nightly pass."""
    tenant_id, lead_id = lead.tenant_id, lead.pk

    def publish() -> None:
        try:
            task_named(RESCORE_TASK).delay(tenant_id=tenant_id, lead_id=lead_id)
        except Exception:  # a broker outage must not fail the change that asked for it
            logger.warning("Could not queue the rescoring of lead %s.", lead_id, exc_info=True)

    transaction.on_commit(publish)
