"""An import's run and what it did (for its report and its undo: created, changed and
rejected rows), saved column mappings, and background exports."""

from __future__ import annotations

import secrets

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from crm.tenancy import TenantModel


def transfer_path(instance: models.Model, filename: str) -> str:
    """Where an uploaded or produced file goes: per tenant and month, under a random name
    (the original name is kept on the row only)."""
    month = timezone.now().strftime("%Y/%m")
    return f"transfer/{instance.tenant_id}/{month}/{secrets.token_hex(16)}"


class Entity(models.TextChoices):
    LEADS = "leads", _("Leads")
    CONTACTS = "contacts", _("Contacts")
    COMPANIES = "companies", _("Companies")
    DEALS = "deals", _("Deals")


class ImportJob(TenantModel):
    """One file brought in: what was detected, how its columns map, the policy, and the
    run's progress and totals. Processed in committed batches, so a run that stops (a
    cancel, a worker restart) keeps what it did and can be resumed or undone."""

    class Policy(models.TextChoices):
        SKIP = "skip", _("Skip duplicates")
        MERGE = "merge", _("Update: fill in what the record lacks")
        REPLACE = "replace", _("Replace: the file's values replace the record's")
        CREATE = "create", _("Create anyway")

    class MatchBy(models.TextChoices):
        CONTACTS = "contacts", _("Phone or e-mail")
        PHONE = "phone", _("Phone")
        EMAIL = "email", _("E-mail")
        EXTERNAL_ID = "external_id", _("External ID column")

    class State(models.TextChoices):
        DRAFT = "draft", pgettext_lazy("import", "Being set up")
        QUEUED = "queued", pgettext_lazy("import", "Queued")
        RUNNING = "running", pgettext_lazy("import", "Running")
        DONE = "done", pgettext_lazy("import", "Done")
        CANCELLED = "cancelled", pgettext_lazy("import", "Cancelled")
        FAILED = "failed", pgettext_lazy("import", "Failed")
        UNDONE = "undone", pgettext_lazy("import", "Undone")

    entity = models.CharField(_("kind of records"), max_length=16, choices=Entity.choices)
    created_by = models.ForeignKey(
        "crm.Membership", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    file = models.FileField(upload_to=transfer_path, max_length=255)
    filename = models.CharField(_("file name"), max_length=255)
    size = models.PositiveBigIntegerField(default=0)
    file_format = models.CharField(max_length=8)  # csv | xlsx
    # How the file is read: detected on upload, the user may override.
    encoding = models.CharField(_("encoding"), max_length=32, blank=True)
    delimiter = models.CharField(_("delimiter"), max_length=4, blank=True)
    date_order = models.CharField(_("dates"), max_length=8, default="dmy")  # dmy | mdy | ymd
    headers = models.JSONField(default=list)  # the header row, as given
    mapping = models.JSONField(default=dict)  # column index (str) -> field key
    policy = models.CharField(
        _("duplicates"), max_length=8, choices=Policy.choices, default=Policy.SKIP
    )
    match_by = models.CharField(
        _("match by"), max_length=16, choices=MatchBy.choices, default=MatchBy.CONTACTS
    )
    defaults = models.JSONField(default=dict)  # owner, status, source, pipeline, stage
    state = models.CharField(max_length=12, choices=State.choices, default=State.DRAFT)
    total_rows = models.PositiveIntegerField(null=True, blank=True)
    processed_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    cancel_requested = models.BooleanField(default=False)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        "crm.Membership", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Records the undo left as they were because someone changed them after the import.
    undo_kept = models.PositiveIntegerField(default=0)

    class Meta(TenantModel.Meta):
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["tenant", "-created_at"], name="transfer_import_recent"),
            models.Index(fields=["tenant", "state", "heartbeat_at"], name="transfer_import_state"),
        ]

    def __str__(self) -> str:
        return self.filename

    @property
    def is_active(self) -> bool:
        return self.state in (self.State.QUEUED, self.State.RUNNING)

    @property
    def undoable(self) -> bool:
        """Ended, and something was created or changed."""
        ended = (self.State.DONE, self.State.CANCELLED, self.State.FAILED)
        return self.state in ended and bool(self.created_count or self.updated_count)

    @property
    def percent(self) -> int:
        if not self.total_rows:
            return 100 if self.state == self.State.DONE else 0
        return min(100, self.processed_rows * 100 // self.total_rows)


class ImportBatch(TenantModel):
    """The records one committed batch of an import created (ids of the job's entity), so
    the undo can remove them."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="batches")
    first_row = models.PositiveIntegerField()
    created_ids = models.JSONField(default=list)
    # Records of other kinds made on the way (a contact's company): {"company": [ids]}.
    other_ids = models.JSONField(default=dict)

    class Meta(TenantModel.Meta):
        ordering = ["pk"]
        indexes = [models.Index(fields=["tenant", "job"], name="transfer_batch_job")]

    def __str__(self) -> str:
        return f"{self.job_id}:{self.first_row}"


class ImportUpdate(TenantModel):
    """A record an import changed: its fields' values before and after, so the undo can
    restore them (a field someone changed since is left as they made it)."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="updates")
    object_id = models.BigIntegerField()
    row_number = models.PositiveIntegerField()
    before = models.JSONField(default=dict)
    after = models.JSONField(default=dict)

    class Meta(TenantModel.Meta):
        ordering = ["pk"]
        indexes = [models.Index(fields=["tenant", "job"], name="transfer_update_job")]

    def __str__(self) -> str:
        return f"{self.job_id}:{self.object_id}"


class ImportRejected(TenantModel):
    """A row the import could not take: its number, the reason and its cells as read, for
    the report and the file of rejected rows to fix and import again."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="rejected")
    row_number = models.PositiveIntegerField()
    reason = models.TextField()
    cells = models.JSONField(default=list)

    class Meta(TenantModel.Meta):
        ordering = ["row_number", "pk"]
        indexes = [models.Index(fields=["tenant", "job", "row_number"], name="transfer_rejected")]

    def __str__(self) -> str:
        return f"{self.job_id}:{self.row_number}"


class ImportMapping(TenantModel):
    """A column mapping saved under a name for the next file of the same shape (the
    headers it was made for are matched by their normalized text)."""

    entity = models.CharField(max_length=16, choices=Entity.choices)
    name = models.CharField(_("name"), max_length=120)
    columns = models.JSONField(default=dict)  # normalized header -> field key ("" = skip)
    created_by = models.ForeignKey(
        "crm.Membership", null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta(TenantModel.Meta):
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "entity", "name"], name="transfer_mapping_unique"
            )
        ]

    def __str__(self) -> str:
        return self.name


class ExportJob(TenantModel):
    """A large export produced in the background and offered for download when ready."""

    class State(models.TextChoices):
        QUEUED = "queued", pgettext_lazy("export", "Queued")
        RUNNING = "running", pgettext_lazy("export", "Being prepared")
        DONE = "done", pgettext_lazy("export", "Ready")
        FAILED = "failed", pgettext_lazy("export", "Failed")

    entity = models.CharField(max_length=16, choices=Entity.choices)
    requested_by = models.ForeignKey("crm.Membership", on_delete=models.CASCADE, related_name="+")
    fmt = models.CharField(max_length=4)  # csv | xlsx
    columns = models.CharField(max_length=8, default="visible")  # visible | all
    query = models.TextField(blank=True)  # the list's filters, as its query string
    state = models.CharField(max_length=8, choices=State.choices, default=State.QUEUED)
    row_count = models.PositiveIntegerField(default=0)
    file = models.FileField(upload_to=transfer_path, max_length=255, blank=True)
    filename = models.CharField(max_length=255, blank=True)
    error = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantModel.Meta):
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["tenant", "requested_by", "-created_at"], name="transfer_export")
        ]

    def __str__(self) -> str:
        return self.filename or self.entity
