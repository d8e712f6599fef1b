"""Tenancy, users, teams, roles and the timeline: the ground every other app stands on."""

from __future__ import annotations

import re
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager

from crm.access import ENTITY_ACTIONS, Entity, Scope, TenantRight
from crm.tenancy import TenantManager, TenantModel

# Top-level paths a tenant slug may not take (they are the app's own URLs).
RESERVED_SLUGS = frozenset(
    {
        "accounts",
        "admin",
        "api",
        "healthz",
        "i18n",
        "in",
        "media",
        "static",
        "www",
        "app",
        "settings",
        "help",
        "docs",
        "status",
        "widget",
        "login",
        "logout",
        "signup",
    }
)
SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,38})[a-z0-9]$")


def validate_tenant_slug(value: str) -> None:
    """A tenant slug: 3–40 lowercase letters, digits and inner hyphens, not reserved."""
    if not SLUG_RE.match(value):
        raise ValidationError(
            _("Use 3–40 lowercase Latin letters, digits and hyphens (not at the ends)."),
            code="invalid",
        )
    if value in RESERVED_SLUGS:
        raise ValidationError(_("This address is reserved."), code="reserved")


class Tenant(models.Model):
    """A company using Voronka. Not tenant-scoped itself: its slug is public in URLs."""

    class Mode(models.TextChoices):
        CLASSIC = "classic", _("Classic: leads, deals and contacts")
        SIMPLE = "simple", _("Simple: deals and contacts only")

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(
        _("address"), max_length=40, unique=True, validators=[validate_tenant_slug]
    )
    mode = models.CharField(_("mode"), max_length=16, choices=Mode.choices, default=Mode.CLASSIC)
    default_region = models.CharField(
        _("default phone region"),
        max_length=2,
        default="RU",
        help_text=_("Two-letter country code used to read phone numbers written without +."),
    )
    time_zone = models.CharField(_("time zone"), max_length=64, default="Europe/Moscow")
    currency = models.CharField(_("currency"), max_length=3, default="RUB")
    language = models.CharField(
        _("default language"), max_length=8, choices=settings.LANGUAGES, default="ru"
    )
    response_sla_minutes = models.PositiveIntegerField(
        _("response time limit, minutes"),
        default=15,
        help_text=_("A new lead not taken within this time is escalated to the team lead."),
    )
    sla_reassign = models.BooleanField(
        _("re-assign escalated leads"),
        default=False,
        help_text=_("Give a lead that was not taken in time to the next available manager."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class UserManager(BaseUserManager):
    """Users log in with their e-mail address."""

    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **extra)

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email=normalize_email(username or ""))


def normalize_email(email: str) -> str:
    """The form in which an e-mail address is stored and looked up (case-folded)."""
    return email.strip().casefold()


class User(AbstractBaseUser, PermissionsMixin):
    """A person. May belong to several tenants through Membership."""

    email = models.EmailField(_("e-mail"), unique=True)
    full_name = models.CharField(_("full name"), max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    def __str__(self) -> str:
        return self.full_name or self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.get_full_name()


class Team(TenantModel):
    """A sales team; its lead sees and converts the team's records (scope "own" widened)."""

    name = models.CharField(_("name"), max_length=120)
    lead = models.ForeignKey(
        "crm.Membership",
        verbose_name=_("team lead"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="led_teams",
    )

    class Meta(TenantModel.Meta):
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="crm_team_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class Role(TenantModel):
    """A named set of rights: the entity × action → scope matrix plus tenant-level rights."""

    class Kind(models.TextChoices):
        ADMIN = "admin", _("Administrator")
        DIRECTOR = "director", _("Director")
        MANAGER = "manager", _("Manager")
        MARKETER = "marketer", _("Marketer")
        CUSTOM = "custom", _("Custom")

    name = models.CharField(_("name"), max_length=80)
    kind = models.CharField(
        max_length=16, choices=Kind.choices, default=Kind.CUSTOM, editable=False
    )
    rights = models.JSONField(default=dict)
    can_manage_settings = models.BooleanField(_("settings"), default=False)
    can_view_analytics = models.BooleanField(_("analytics"), default=False)
    can_manage_users = models.BooleanField(_("users"), default=False)

    class Meta(TenantModel.Meta):
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="crm_role_unique_name"),
            models.UniqueConstraint(
                fields=["tenant", "kind"],
                condition=~models.Q(kind="custom"),
                name="crm_role_unique_system_kind",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_admin(self) -> bool:
        """The Administrator role always holds every right (no tenant can lock itself out)."""
        return self.kind == self.Kind.ADMIN

    def scope(self, entity: str, action: str) -> str:
        if self.is_admin:
            return Scope.ALL if action in ENTITY_ACTIONS.get(entity, ()) else Scope.NONE
        return self.rights.get(entity, {}).get(action, Scope.NONE)

    def has_right(self, right: str) -> bool:
        if self.is_admin:
            return True
        return {
            TenantRight.SETTINGS: self.can_manage_settings,
            TenantRight.ANALYTICS: self.can_view_analytics,
            TenantRight.USERS: self.can_manage_users,
        }.get(right, False)


class Membership(TenantModel):
    """A user's place in a tenant: role, team, and whether they may still log in to it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.ForeignKey(
        Role, verbose_name=_("role"), on_delete=models.PROTECT, related_name="memberships"
    )
    team = models.ForeignKey(
        Team,
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="members",
    )
    is_active = models.BooleanField(_("active"), default=True)
    is_away = models.BooleanField(
        _("away"), default=False, help_text=_("Away members get no new leads automatically.")
    )
    # How the member's open pages announce a new lead (crm.live): a sound, a browser
    # notification (the browser asks for permission when this is switched on).
    alert_sound = models.BooleanField(_("sound for new leads"), default=False)
    alert_desktop = models.BooleanField(_("browser notification for new leads"), default=False)
    # The tenant's robot (channels, periodic tasks): acts with administrator rights, never
    # logs in, never listed among people (crm.services.system_actor).
    is_system = models.BooleanField(default=False, editable=False)

    rls_user_column = "user"

    class Meta(TenantModel.Meta):
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="crm_membership_unique_user")
        ]

    def __str__(self) -> str:
        return f"membership {self.pk}"


class Invitation(TenantModel):
    """An e-mailed invitation to join a tenant with a role and team; single use, expires."""

    email = models.EmailField(_("e-mail"))
    role = models.ForeignKey(
        Role, verbose_name=_("role"), on_delete=models.CASCADE, related_name="+"
    )
    team = models.ForeignKey(
        Team,
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    invited_by = models.ForeignKey(
        Membership, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    nonce = models.CharField(max_length=32, editable=False)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantModel.Meta):
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "email"], name="crm_invitation_tenant_email")]

    def __str__(self) -> str:
        return self.email

    @property
    def is_pending(self) -> bool:
        return (
            self.accepted_at is None
            and self.revoked_at is None
            and self.expires_at > timezone.now()
        )


# A lead's or deal's conversation state (channels.Message): written by the channels only (an
# inbound message, a reply sent, a card opened), never by a full save of a record read
# earlier (Lead.save, Deal.save).
CONVERSATION_OWNED = frozenset({"unread_messages", "waiting_since", "waiting_alerted_at"})


class ImmutableQuerySet(models.QuerySet):
    """History is append-only: bulk updates and deletes are refused."""

    def update(self, **kwargs: Any) -> int:
        raise TypeError("Timeline events are immutable.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError("Timeline events are immutable.")


class TimelineEvent(TenantModel):
    """One immutable entry of a record's history: who did what to which object, and when."""

    target_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    target_id = models.BigIntegerField()
    target = GenericForeignKey("target_type", "target_id")
    actor = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=64)
    data = models.JSONField(default=dict, blank=True)

    objects = ScopedManager(TenantManager.from_queryset(ImmutableQuerySet), tenant="tenant")

    class Meta(TenantModel.Meta):
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(
                fields=["tenant", "target_type", "target_id", "-created_at"],
                name="crm_timeline_target",
            ),
            models.Index(fields=["tenant", "-created_at"], name="crm_timeline_recent"),
        ]

    def __str__(self) -> str:
        return self.kind

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise TypeError("Timeline events are immutable.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise TypeError("Timeline events are immutable.")


class Activity(TenantModel):
    """A call, meeting, task or note on any record, with an optional due date and reminder."""

    class Kind(models.TextChoices):
        CALL = "call", _("Call")
        MEETING = "meeting", _("Meeting")
        TASK = "task", _("Task")
        NOTE = "note", _("Note")
        EMAIL = "email", _("E-mail")
        MESSAGE = "message", _("Message")

    target_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    target_id = models.BigIntegerField()
    target = GenericForeignKey("target_type", "target_id")
    kind = models.CharField(_("type"), max_length=16, choices=Kind.choices, default=Kind.TASK)
    subject = models.CharField(_("subject"), max_length=200)
    note = models.TextField(_("note"), blank=True)
    owner = models.ForeignKey(
        Membership,
        verbose_name=_("responsible"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="activities",
    )
    created_by = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    remind_at = models.DateTimeField(_("remind at"), null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True, editable=False)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantModel.Meta):
        ordering = ["done_at", "due_at", "-created_at"]
        indexes = [
            models.Index(fields=["tenant", "target_type", "target_id"], name="crm_activity_target"),
            models.Index(fields=["tenant", "done_at", "due_at"], name="crm_activity_due"),
            # The task page's groups and the calendar walk these in due order and stop at
            # their limit: a member's open activities, everyone's (a director's "all"), and
            # what a member did lately. (`done_at IS NULL` is no equality for the planner:
            # an index over done_at, due_at cannot give due order, so it is a condition.)
            models.Index(
                fields=["tenant", "owner", "due_at"],
                condition=models.Q(done_at=None),
                name="crm_activity_owner_open",
            ),
            models.Index(
                fields=["tenant", "due_at"],
                condition=models.Q(done_at=None),
                name="crm_activity_open",
            ),
            models.Index(fields=["tenant", "owner", "done_at"], name="crm_activity_owner_done"),
            # A record's next activity (crm/nextactivity.py): its open ones, soonest first.
            models.Index(
                fields=["tenant", "target_type", "target_id", "due_at"],
                name="crm_activity_open_target",
                condition=models.Q(done_at=None),
            ),
        ]

    def __str__(self) -> str:
        return self.subject

    @property
    def is_overdue(self) -> bool:
        return self.done_at is None and self.due_at is not None and self.due_at < timezone.now()


class Notification(TenantModel):
    """An in-app message to one member (the bell), also sent by e-mail after commit."""

    recipient = models.ForeignKey(
        Membership, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=64)
    data = models.JSONField(default=dict, blank=True)
    url = models.CharField(max_length=300, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantModel.Meta):
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(
                fields=["tenant", "recipient", "read_at", "-created_at"],
                name="crm_notification_inbox",
            )
        ]

    def __str__(self) -> str:
        return self.kind


class CustomField(TenantModel):
    """A tenant's own field on leads, deals, contacts or companies; values live in `custom`."""

    class Type(models.TextChoices):
        TEXT = "text", _("Text")
        NUMBER = "number", _("Number")
        DATE = "date", _("Date")
        CHOICE = "choice", _("Choice")
        MULTI_CHOICE = "multi_choice", _("Several choices")
        BOOL = "bool", _("Yes / no")
        USER = "user", _("Team member")

    entity = models.CharField(_("records"), max_length=16, choices=Entity.choices)
    key = models.SlugField(_("key"), max_length=40)
    label = models.CharField(_("label"), max_length=80)
    field_type = models.CharField(_("type"), max_length=16, choices=Type.choices)
    choices = models.JSONField(_("choices"), default=list, blank=True)
    required = models.BooleanField(_("required"), default=False)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta(TenantModel.Meta):
        ordering = ["entity", "position", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "entity", "key"], name="crm_customfield_unique_key"
            )
        ]

    def __str__(self) -> str:
        return self.label


class SavedFilter(TenantModel):
    """A named set of list filters («Горячие с сайта»): the member's own, or shared with
    everyone in the tenant by someone who may change its settings."""

    owner = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="+")
    list_name = models.CharField(max_length=64)  # the list's URL name, e.g. "leads:inbox"
    name = models.CharField(_("name"), max_length=80)
    query = models.CharField(max_length=1000)  # the list's query string, without paging
    shared = models.BooleanField(_("for everyone"), default=False)

    class Meta(TenantModel.Meta):
        ordering = ["name", "pk"]
        indexes = [models.Index(fields=["tenant", "list_name"], name="crm_savedfilter_list")]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "owner", "list_name", "name"], name="crm_savedfilter_name"
            )
        ]

    def __str__(self) -> str:
        return self.name


def attachment_path(instance: Attachment, filename: str) -> str:
    """Where a stored file goes: per tenant and month, under a random name (the original
    name is kept on the row only, so no path or name from a sender reaches the disk)."""
    month = timezone.now().strftime("%Y/%m")
    return f"attachments/{instance.tenant_id}/{month}/{secrets.token_hex(16)}"


class Attachment(TenantModel):
    """A file that came with a record's inquiry (an e-mail's attachment), or a note that it
    was not kept (`skipped`: too large…). Belongs to one record (lead, deal, contact…);
    `event_id` is the inbound delivery it came with (its timeline entry lists it)."""

    target_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    target_id = models.BigIntegerField()
    target = GenericForeignKey("target_type", "target_id")
    event_id = models.BigIntegerField(null=True, blank=True)
    filename = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(max_length=200, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    file = models.FileField(upload_to=attachment_path, max_length=255, blank=True)
    skipped = models.CharField(max_length=300, blank=True)

    class Meta(TenantModel.Meta):
        ordering = ["pk"]
        indexes = [
            models.Index(
                fields=["tenant", "target_type", "target_id"], name="crm_attachment_target"
            ),
            models.Index(fields=["tenant", "event_id"], name="crm_attachment_event"),
        ]

    def __str__(self) -> str:
        return self.filename
