"""Read queries for contacts and companies: scoped lists, search by match keys, the card,
likely duplicates, related leads, merges."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet
from django.http import Http404

from contacts.models import Company, Contact, MatchKey, Party
from contacts.normalize import (
    DIGITS,
    email_key,
    messenger_key,
    name_words,
    phone_e164,
    prefix_upper_bound,
    tax_id_key,
)
from contacts.services import MESSENGERS, spec_of
from crm import keyset
from crm.access import Action, scope_queryset
from crm.ids import parse_id
from crm.models import Activity, Membership
from crm.text import clean_line

DUPLICATE_LIMIT = 10


def owner_field(model: type[Party]) -> str:
    return "contact" if model is Contact else "company"


def contact_base() -> QuerySet[Contact]:
    """Live contacts (not in the trash, not merged away) with what list rows show."""
    return Contact.objects.filter(deleted_at=None, merged_into=None).select_related(
        "company", "owner__user"
    )


def company_base() -> QuerySet[Company]:
    """Live companies with what list rows show."""
    return Company.objects.filter(deleted_at=None, merged_into=None).select_related("owner__user")


def base_of(model: type[Party]) -> QuerySet:
    return contact_base() if model is Contact else company_base()


def record_list(*, actor: Membership, model: type[Party]) -> QuerySet:
    """Every live contact or company the actor may view."""
    return scope_queryset(base_of(model), actor=actor, action=Action.VIEW)


def record_get_for_user(*, actor: Membership, model: type[Party], record_id: int) -> Party:
    """A live record the actor may view, or 404 (the same for "missing" and "not yours")."""
    related = ("owner__user", "owner__team", "created_by__user")
    if model is Contact:
        related += ("company",)
    record = (
        scope_queryset(
            model.objects.filter(deleted_at=None, merged_into=None),
            actor=actor,
            action=Action.VIEW,
        )
        .select_related(*related)
        .filter(pk=record_id)
        .first()
    )
    if record is None:
        raise Http404
    return record


def record_trash(*, actor: Membership, model: type[Party]) -> QuerySet:
    """Deleted records the actor may delete (and so restore), most recently deleted first."""
    deleted = model.objects.exclude(deleted_at=None).filter(merged_into=None)
    return scope_queryset(deleted, actor=actor, action=Action.DELETE).order_by("-deleted_at")


def record_in_trash(*, actor: Membership, model: type[Party], record_id: int) -> Party:
    record = record_trash(actor=actor, model=model).filter(pk=record_id).first()
    if record is None:
        raise Http404
    return record


# --- Search -------------------------------------------------------------------------------


def _keys(model: type[Party], q: Q) -> QuerySet:
    field = owner_field(model)
    return MatchKey.objects.filter(q, **{f"{field}__isnull": False}).values(field)


def search(queryset: QuerySet, query: str, *, region: str) -> QuerySet:
    """Records matching a phone in any format, an e-mail, a messenger handle, a tax id, or
    the beginnings of name words (all words must match): equality and range lookups on
    the match-key index, which work under row-level security. Invisible characters in the
    query are ignored."""
    model = queryset.model
    query = clean_line(query)
    if not query:
        return queryset
    if "@" in query and not query.startswith("@"):
        return queryset.filter(pk__in=_keys(model, Q(kind="email", value=email_key(query))))
    if query.startswith("@"):
        handles = Q(kind__in=MESSENGERS, value=messenger_key("telegram", query, region))
        return queryset.filter(pk__in=_keys(model, handles))
    digits = "".join(DIGITS.findall(query))
    if len(digits) >= 5 and len(digits) >= len(query.replace(" ", "")) * 0.6:
        found = Q(kind="tax_id", value=tax_id_key(query))
        e164 = phone_e164(query, region)
        if e164:
            found |= Q(kind__in=("phone", "whatsapp"), value=e164)
        return queryset.filter(pk__in=_keys(model, found))
    for word in sorted(name_words(query)):
        prefix = Q(kind="word", value__gte=word, value__lt=prefix_upper_bound(word))
        queryset = queryset.filter(pk__in=_keys(model, prefix))
    return queryset


def page_newest_first(queryset: QuerySet, cursor: str | None) -> keyset.Page:
    """A keyset page of a filtered list: keys join-free, then the rows by id."""
    base = base_of(queryset.model)
    return keyset.page_newest_first(
        queryset.select_related(None), lambda ids: base.in_bulk(ids), cursor, keyset.PAGE_SIZE
    )


# --- The card -----------------------------------------------------------------------------


def merged_ids(record: Party) -> list[int]:
    """Ids of the records merged into `record` (and into those), merges not undone."""
    merge_model = spec_of(record).merge_model
    found: list[int] = []
    frontier = [record.pk]
    while frontier:
        frontier = list(
            merge_model.objects.filter(survivor_id__in=frontier, undone_at=None).values_list(
                "merged_id", flat=True
            )
        )
        frontier = [pk for pk in frontier if pk not in found and pk != record.pk]
        found += frontier
    return found


def merges(record: Party) -> QuerySet:
    """The merges into this record that can still be undone, newest first."""
    return (
        spec_of(record)
        .merge_model.objects.filter(survivor=record, undone_at=None)
        .select_related("merged", "actor__user")
    )


def merge_get(*, actor: Membership, model: type[Party], merge_id: int) -> Any:
    """A merge whose survivor the actor may view, or 404."""
    merge_model = spec_of(model).merge_model
    merge = merge_model.objects.select_related("survivor__owner__team", "merged__owner__team")
    merge = merge.filter(pk=merge_id).first()
    if (
        merge is None
        or not scope_queryset(
            model.objects.filter(pk=merge.survivor_id), actor=actor, action=Action.VIEW
        ).exists()
    ):
        raise Http404
    return merge


def party_keys(record: Party) -> list[tuple[str, str]]:
    return list(record.keys.values_list("kind", "value"))


def likely_duplicates(record: Party, *, actor: Membership) -> list[Party]:
    """Other live records the actor may see that share a phone, e-mail, messenger or tax id
    with this one, or all of its name words (two or more)."""
    model = type(record)
    field = owner_field(model)
    keys = party_keys(record)
    exact = Q()
    for kind, value in keys:
        if kind != MatchKey.Kind.WORD:
            exact |= Q(kind=kind, value=value)
    ids: set[int] = set()
    if exact:
        ids |= set(MatchKey.objects.filter(exact).values_list(field, flat=True))
    words = [value for kind, value in keys if kind == MatchKey.Kind.WORD]
    if len(words) >= 2:
        same_name = (
            MatchKey.objects.filter(kind=MatchKey.Kind.WORD, value__in=words)
            .exclude(**{field: None})
            .values(field)
            .annotate(n=Count("pk"))
            .filter(n=len(words))
            .values_list(field, flat=True)
        )
        ids |= set(same_name)
    ids.discard(record.pk)
    ids.discard(None)
    if not ids:
        return []
    visible = record_list(actor=actor, model=model).filter(pk__in=ids)
    return list(visible.order_by("-created_at")[:DUPLICATE_LIMIT])


def company_contacts(company: Company, *, actor: Membership) -> list[Contact]:
    """The company's live contacts the actor may see."""
    contacts = record_list(actor=actor, model=Contact).filter(company=company)
    return list(contacts.order_by("last_name", "first_name", "pk")[:100])


def companies_for_choice() -> QuerySet[Company]:
    """Live companies for a contact's company field (by name)."""
    return Company.objects.filter(deleted_at=None, merged_into=None).order_by("name", "pk")


def activity_get(*, record: Party, activity_id: int) -> Activity:
    """An activity of this record, or 404."""
    from crm.selectors import activities_for

    activity = activities_for(target=record).filter(pk=activity_id).first()
    if activity is None:
        raise Http404
    return activity


PICKER_OPTIONS = 50
NAME_ORDER = {Contact: ("last_name", "first_name", "pk"), Company: ("name", "pk")}


def picker_options(
    model: type[Party], query: str, *, actor: Membership, region: str
) -> list[Party]:
    """Live records the actor may view, for a contact/company field's options: the first by
    name, or those matching `query` (name words, phone in any format, e-mail, handle, INN)."""
    live = scope_queryset(
        model.objects.filter(deleted_at=None, merged_into=None), actor=actor, action=Action.VIEW
    )
    found = search(live, query, region=region) if query.strip() else live
    return list(found.order_by(*NAME_ORDER[model])[:PICKER_OPTIONS])


def limit_record_choices(form: Any, name: str, url_name: str, *, actor: Membership) -> None:
    """Make form field `name` (a contact or company choice) fit a base of any size: its
    <select> shows the chosen record and the first records by name, and a search box
    (components/_form_field.html) loads matches from `url_name`. Any live record the actor
    may view validates, and the one the form started with."""
    from crm.filters import LazyChoices

    field = form.fields[name]
    field.picker_url_name = url_name
    selected = form[name].value()
    current = form.initial.get(name)
    visible = scope_queryset(field.queryset, actor=actor, action=Action.VIEW)
    current_id = parse_id(getattr(current, "pk", current))
    if current_id:
        visible = visible | field.queryset.filter(pk=current_id)
    field.queryset = queryset = visible

    def options() -> list[tuple[Any, str]]:
        first = list(queryset[:PICKER_OPTIONS])
        shown = {str(record.pk) for record in first}
        selected_id = parse_id(str(selected or ""))
        if selected_id and str(selected_id) not in shown:
            first = [*queryset.filter(pk=selected_id), *first]
        return [("", field.empty_label), *((r.pk, field.label_from_instance(r)) for r in first)]

    field.widget.choices = LazyChoices(options)


def find_contact(
    *,
    actor: Membership,
    phone_e164: str = "",
    email_key: str = "",
    messenger: str = "",
    messenger_id: str = "",
) -> Contact | None:
    """The newest live contact the actor may see with this phone (E.164), e-mail (case-
    folded) or messenger identity, or None."""
    keys = [(MatchKey.Kind.PHONE, phone_e164), (MatchKey.Kind.EMAIL, email_key)]
    if messenger and messenger_id:
        keys.append(
            (messenger, messenger_key(messenger, messenger_id, actor.tenant.default_region))
        )
    wanted = Q()
    for kind, value in keys:
        if value:
            wanted |= Q(kind=kind, value=value)
    if not wanted:
        return None
    ids = MatchKey.objects.filter(wanted, contact__isnull=False).values("contact_id")
    return (
        record_list(actor=actor, model=Contact).filter(pk__in=ids).order_by("-created_at").first()
    )


def find_company(*, actor: Membership, name: str = "", tax_id: str = "") -> Company | None:
    """The live company the actor may see with this tax id, or else with this very name
    (case ignored), or None."""
    visible = record_list(actor=actor, model=Company)
    digits = tax_id_key(tax_id)
    if digits:
        found = visible.filter(
            pk__in=MatchKey.objects.filter(kind=MatchKey.Kind.TAX_ID, value=digits).values(
                "company_id"
            )
        ).first()
        if found is not None:
            return found
    words = sorted(name_words(name))
    if not words:
        return None
    # Candidates share the name's rarest-looking (longest) word; the whole name decides.
    candidates = visible.filter(
        pk__in=MatchKey.objects.filter(kind=MatchKey.Kind.WORD, value=max(words, key=len)).values(
            "company_id"
        )
    ).order_by("-created_at")[:50]
    wanted = " ".join(name.split()).casefold()
    return next((c for c in candidates if " ".join(c.name.split()).casefold() == wanted), None)
