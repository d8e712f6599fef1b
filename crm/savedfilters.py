"""Saved filters of the lists: a member names the filters they use often and gets them
back in one click; someone who may change the tenant's settings can share one with all."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.http import Http404, QueryDict
from django.utils.translation import gettext as _

from crm.access import Action, Entity, Scope, TenantRight, has_right, scope_for
from crm.errors import DomainError
from crm.models import Membership, SavedFilter


def _sees_leads(member: Membership) -> bool:
    return scope_for(member, Entity.LEAD, Action.VIEW) != Scope.NONE


def _manages_settings(member: Membership) -> bool:
    return has_right(member, TenantRight.SETTINGS)


@dataclass(frozen=True)
class SavedList:
    """A page whose filters can be saved: where it is, who may open it, who may share."""

    url_name: str
    may_view: Callable[[Membership], bool]
    may_share: Callable[[Membership], bool] = _manages_settings
    url_kwargs: dict[str, str] = field(default_factory=dict)


# Pages that have saved filters, by name (a list's URL name); apps above add theirs.
LISTS: dict[str, SavedList] = {
    "leads:inbox": SavedList("leads:inbox", _sees_leads),
    "leads:list": SavedList("leads:list", _sees_leads),
    "leads:kanban": SavedList("leads:kanban", _sees_leads),
}


def register(name: str, saved_list: SavedList) -> None:
    """Give the page `name` saved filters (an app's ready(): analytics' reports)."""
    LISTS[name] = saved_list


# Parameters that say where the user was or which fragment htmx wanted, not what to show.
NOT_FILTERS = {"after", "fragment", "bulk", "csrfmiddlewaretoken"}


def saved_filters(*, actor: Membership, list_name: str) -> QuerySet[SavedFilter]:
    """The actor's own saved filters of a list and the shared ones, by name."""
    return SavedFilter.objects.filter(Q(owner=actor) | Q(shared=True), list_name=list_name)


def may_share(actor: Membership, list_name: str) -> bool:
    """Whether the actor may share filters of the page with everyone (and remove shared)."""
    saved_list = LISTS.get(list_name)
    return saved_list is not None and saved_list.may_share(actor)


def saved_filter_get(*, actor: Membership, saved_filter_id: int) -> SavedFilter:
    """A saved filter the actor may remove (own, or shared when they may share there)."""
    found = SavedFilter.objects.filter(pk=saved_filter_id).first()
    if found is None or not (
        found.owner_id == actor.pk or (found.shared and may_share(actor, found.list_name))
    ):
        raise Http404
    return found


def clean_query(query: str) -> str:
    """The filter part of a list's query string (paging and fragment parameters dropped)."""
    params = QueryDict(query, mutable=True)
    for key in NOT_FILTERS:
        params.pop(key, None)
    return params.urlencode()


def saved_filter_create(
    *, actor: Membership, list_name: str, name: str, query: str, shared: bool = False
) -> SavedFilter:
    """Save the filters of `query` under `name` for the list `list_name`."""
    name, query = name.strip(), clean_query(query)
    if list_name not in LISTS:
        raise DomainError(_("This list has no saved filters."))
    if not name:
        raise DomainError(_("Give the filter a name."))
    if not query:
        raise DomainError(_("Set some filters first: there is nothing to save."))
    if len(query) > SavedFilter._meta.get_field("query").max_length:
        raise DomainError(_("These filters are too long to save."))
    if shared and not may_share(actor, list_name):
        raise DomainError(_("Your role may not share these filters with everyone."))
    try:
        with transaction.atomic():
            return SavedFilter.objects.create(
                owner=actor, list_name=list_name, name=name[:80], query=query, shared=shared
            )
    except IntegrityError:
        raise DomainError(
            _("You already have a filter named “%(name)s”.") % {"name": name}
        ) from None


def saved_filter_delete(*, actor: Membership, saved_filter_id: int) -> SavedFilter:
    """Remove a saved filter (own, or a shared one by someone who manages settings)."""
    saved = saved_filter_get(actor=actor, saved_filter_id=saved_filter_id)
    saved.delete()
    return saved
