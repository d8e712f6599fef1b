"""Saved filters of the lists: a member names the filters they use often and gets them
back in one click; someone who may change the tenant's settings can share one with all."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.http import Http404, QueryDict
from django.utils.translation import gettext as _

from crm.access import Entity, TenantRight, has_right
from crm.errors import DomainError
from crm.models import Membership, SavedFilter

# Lists that have saved filters: their URL names, and what they list.
LISTS = {"leads:inbox": Entity.LEAD, "leads:list": Entity.LEAD}
# Parameters that say where the user was or which fragment htmx wanted, not what to show.
NOT_FILTERS = {"after", "fragment", "bulk", "csrfmiddlewaretoken"}


def saved_filters(*, actor: Membership, list_name: str) -> QuerySet[SavedFilter]:
    """The actor's own saved filters of a list and the shared ones, by name."""
    return SavedFilter.objects.filter(Q(owner=actor) | Q(shared=True), list_name=list_name)


def saved_filter_get(*, actor: Membership, saved_filter_id: int) -> SavedFilter:
    """A saved filter the actor may remove (own, or shared when they manage settings)."""
    may_manage_shared = has_right(actor, TenantRight.SETTINGS)
    rows = SavedFilter.objects.filter(pk=saved_filter_id)
    saved = rows.filter(Q(owner=actor) | Q(shared=True) if may_manage_shared else Q(owner=actor))
    found = saved.first()
    if found is None:
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
    if shared and not has_right(actor, TenantRight.SETTINGS):
        raise DomainError(_("Only those who manage the settings may share filters with everyone."))
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
