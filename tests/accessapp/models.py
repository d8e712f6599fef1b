from django.db import models

from crm.access import Entity, OwnedModel


class Note(OwnedModel):
    """Governed by the lead row of the matrix (leads have the shared unassigned pool)."""

    access_entity = Entity.LEAD
    title = models.CharField(max_length=100)

    class Meta(OwnedModel.Meta):
        pass


class Memo(OwnedModel):
    """Governed by the contact row (no shared pool)."""

    access_entity = Entity.CONTACT
    title = models.CharField(max_length=100)

    class Meta(OwnedModel.Meta):
        pass
