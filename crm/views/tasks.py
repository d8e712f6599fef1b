"""Tasks ("Дела"): my activities across leads, deals, contacts and companies by when they
are due, acted on in place (done, moved, given to someone), new ones, and the calendar of
calls and meetings. Reads in crm.activities; writes in the services (a new activity through
its record's app, which checks the record's rights)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from contacts.services import record_activity_add
from crm import activities
from crm.access import Entity
from crm.errors import DomainError
from crm.forms import AssignActivityForm, RescheduleForm, TaskForm
from crm.models import Activity
from crm.selectors import assignable_members
from crm.services import activity_assign, activity_complete, activity_reschedule
from crm.text import clean_line
from crm.urlnames import tenant_reverse
from crm.views.errors import refusal
from deals.services import deal_activity_add
from leads.services import lead_activity_add

# A new activity goes through its record's app (a lead's first call is its first response).
ADD_ACTIVITY = {
    Entity.LEAD: lambda actor, record, fields: lead_activity_add(
        actor=actor, lead=record, **fields
    ),
    Entity.DEAL: lambda actor, record, fields: deal_activity_add(
        actor=actor, deal=record, **fields
    ),
    Entity.CONTACT: lambda actor, record, fields: record_activity_add(
        actor=actor, record=record, **fields
    ),
    Entity.COMPANY: lambda actor, record, fields: record_activity_add(
        actor=actor, record=record, **fields
    ),
}
TYPE_CHOICES = [(k, label) for k, label in Activity.Kind.choices if k in activities.TASK_KINDS]


def _choices(request: HttpRequest) -> dict[str, Any]:
    """What the page shows, from the query string: whose activities (within what the role
    allows) and which type."""
    actor = request.membership
    kinds = activities.target_kinds(tenant=request.tenant)
    allowed = activities.whose_choices(actor=actor, kinds=kinds)
    whose = request.GET.get("whose", "")
    kind = request.GET.get("kind", "")
    return {
        "kinds": kinds,
        "whose": whose if whose in allowed else activities.MINE,
        "whose_choices": [(w, activities.WHOSE_LABELS[w]) for w in allowed],
        "kind": kind if kind in activities.TASK_KINDS else "",
    }


def _page(request: HttpRequest, *, form: TaskForm | None = None, status: int = 200) -> HttpResponse:
    actor = request.membership
    chosen = _choices(request)
    kinds = chosen["kinds"]
    groups = activities.task_groups(
        actor=actor, kinds=kinds, whose=chosen["whose"], kind=chosen["kind"]
    )
    members = list(assignable_members())
    context = {
        **chosen,
        "section": "tasks",
        "groups": groups,
        "members": members,
        "type_choices": TYPE_CHOICES,
        "form": form or TaskForm(members=assignable_members()),
        "records": activities.record_choices(actor=actor, kinds=kinds, query=""),
        "now": timezone.now(),
    }
    return render(request, "crm/tasks.html", context, status=status)


@require_GET
def task_list(request: HttpRequest) -> HttpResponse:
    return _page(request)


def _back(request: HttpRequest) -> HttpResponse:
    """After a plain form: back to the task page with the same choices."""
    query = {k: request.POST[k] for k in ("whose", "kind") if request.POST.get(k)}
    url = tenant_reverse("crm:tasks", request.tenant)
    return redirect(f"{url}?{urlencode(query)}" if query else url)


def _row(request: HttpRequest, activity_id: int) -> activities.TaskRow:
    return activities.task_get(
        actor=request.membership,
        kinds=activities.target_kinds(tenant=request.tenant),
        activity_id=activity_id,
    )


def _answer(request: HttpRequest, pk: int, message: str) -> HttpResponse:
    """The changed row in place (htmx), or back to the page with a message."""
    if request.htmx:
        context = {
            "row": _row(request, pk),
            "members": list(assignable_members()),
            "now": timezone.now(),
            "changed": message,
        }
        response = render(request, "crm/tasks.html#row", context)
        patch_vary_headers(response, ["HX-Request"])
        return response
    messages.success(request, message)
    return _back(request)


@require_POST
def task_done(request: HttpRequest, pk: int) -> HttpResponse:
    row = _row(request, pk)
    activity_complete(actor=request.membership, activity=row.activity, target=row.record)
    return _answer(request, pk, _("Done."))


def new_time(
    choice: str, *, current: dt.datetime | None, picked: dt.datetime | None
) -> dt.datetime:
    """+1 hour (from the due time, or from now when that has passed), tomorrow at the same
    local time (now's, without a due time), or the picked time."""
    now = timezone.now()
    if choice == RescheduleForm.HOUR:
        return max(current or now, now) + dt.timedelta(hours=1)
    if choice == RescheduleForm.TOMORROW:
        clock = timezone.localtime(current or now).time().replace(tzinfo=None)
        tomorrow = timezone.localdate(now) + dt.timedelta(days=1)
        return dt.datetime.combine(tomorrow, clock, tzinfo=timezone.get_current_timezone())
    assert picked is not None  # noqa: S101 (RescheduleForm requires it)
    return picked


@require_POST
def task_reschedule(request: HttpRequest, pk: int) -> HttpResponse:
    row = _row(request, pk)
    form = RescheduleForm(request.POST)
    if not form.is_valid():
        message = " ".join(e for errors in form.errors.values() for e in errors)
        if request.htmx:
            return refusal(request, message, status=400)
        messages.error(request, message)
        return _back(request)
    due_at = new_time(
        form.cleaned_data["to"], current=row.activity.due_at, picked=form.cleaned_data["due_at"]
    )
    activity_reschedule(
        actor=request.membership, activity=row.activity, target=row.record, due_at=due_at
    )
    local = timezone.localtime(due_at)
    return _answer(request, pk, _("Moved to %(when)s.") % {"when": local.strftime("%d.%m %H:%M")})


@require_POST
def task_assign(request: HttpRequest, pk: int) -> HttpResponse:
    row = _row(request, pk)
    form = AssignActivityForm(request.POST, members=assignable_members())
    if not form.is_valid():
        message = _("Choose whom to give it to.")
        if request.htmx:
            return refusal(request, message, status=400)
        messages.error(request, message)
        return _back(request)
    owner = form.cleaned_data["owner"]
    activity_assign(actor=request.membership, activity=row.activity, target=row.record, owner=owner)
    return _answer(request, pk, _("Given to %(member)s.") % {"member": owner.user})


@require_POST
def task_create(request: HttpRequest) -> HttpResponse:
    """A new activity on a record the actor may edit, for them or for someone else (who is
    notified). A record they cannot see is a form error; one they may only view is a 403."""
    actor = request.membership
    kinds = activities.target_kinds(tenant=request.tenant)
    form = TaskForm(request.POST, members=assignable_members())
    record = None
    if form.is_valid():
        record = activities.record_for_new(
            actor=actor, kinds=kinds, value=form.cleaned_data["record"]
        )
        if record is None:
            form.add_error("record", _("Choose a record from the list."))
    if not form.is_valid() or record is None:
        return _page(request, form=form, status=400)
    fields = {k: form.cleaned_data[k] for k in ("kind", "subject", "note", "due_at", "remind_at")}
    activity = ADD_ACTIVITY[record.access_entity](actor, record, fields)
    owner = form.cleaned_data["owner"]
    if owner is not None and owner.pk != actor.pk:
        try:
            activity_assign(actor=actor, activity=activity, target=record, owner=owner)
        except DomainError as error:
            # A 400 answer undoes the new activity too (TenantMiddleware rolls back).
            form.add_error("owner", error.message)
            return _page(request, form=form, status=400)
    messages.success(request, _("Added “%(subject)s”.") % {"subject": activity.subject})
    return _back(request)


@require_GET
def task_records(request: HttpRequest) -> HttpResponse:
    """The record choices of the new-activity form matching the search box (htmx)."""
    found = activities.record_choices(
        actor=request.membership,
        kinds=activities.target_kinds(tenant=request.tenant),
        query=clean_line(request.GET.get("q", ""))[:100],
    )
    response = render(request, "crm/tasks.html#record_options", {"records": found})
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_GET
def task_calendar(request: HttpRequest) -> HttpResponse:
    """Calls and meetings of a day or a week as a grid of hours, on the workspace's clock."""
    chosen = _choices(request)
    view = request.GET.get("view", activities.WEEK)
    if view not in (activities.DAY, activities.WEEK):
        view = activities.WEEK
    day = activities.parse_day(request.GET.get("date", ""))
    grid = activities.calendar(
        actor=request.membership,
        kinds=chosen["kinds"],
        whose=chosen["whose"],
        view=view,
        day=day,
    )
    context = {
        **chosen,
        "section": "tasks",
        "calendar": grid,
        "day": day,
        "today": timezone.localdate(),
        "today_index": next(
            (i for i, d in enumerate(grid.days) if d == timezone.localdate()), None
        ),
        "limit": activities.CALENDAR_LIMIT,
    }
    return render(request, "crm/tasks_calendar.html", context)
