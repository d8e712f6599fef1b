"""The top-bar search: leads, deals, contacts and companies at once, grouped by kind.

A query is read as one of:

- an e-mail (has "@" inside): the records' e-mail keys;
- digits (only digits and phone punctuation, at least MIN_DIGITS): a phone by its **last
  digits** — "4567" and "8 (967) 123-45-67" alike — as a range of a btree over the digits
  backwards (`Lead.phone_tail`, the contacts' `phone_tail` match keys), and a company's INN;
- words: the beginnings of name words (leads: `LeadWord`; contacts and companies: their
  word match keys; deals: their contact's or company's, and their lead's).

Every kind is read through its own app's visibility selector (`lead_list`, `deal_list`,
`record_list`): a member sees what the lists show them, nothing else. One or two queries a
kind, whatever the number of results; a kind the member may not view is not asked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from contacts import selectors as contacts_selectors
from contacts.models import Company, Contact, MatchKey
from contacts.normalize import email_key, name_words, prefix_upper_bound, tax_id_key
from crm.access import Action, Entity, Scope, scope_for
from crm.models import Membership
from crm.text import clean_line
from deals import selectors as deals_selectors
from deals.models import Deal
from leads import selectors as leads_selectors
from leads.models import Lead
from leads.words import MIN_WORD, prefix_range, query_words

# Longer queries are cut (a name, a phone or an e-mail fits; a pasted page does not).
MAX_QUERY = 100
# The fewest last digits of a phone searched alone ("…45-67"): fewer match too many.
MIN_DIGITS = 4
# A phone's last digits compared at most: national prefixes differ (8 / +7) before them.
TAIL_DIGITS = 10
# Results a kind shows in the dropdown, and on the full page.
DROPDOWN_LIMIT = 5
PAGE_LIMIT = 20

# Leads read by id per result shown, of the newest name matches (see _leads).
NAME_CANDIDATES = 4

_ASCII_DIGIT = re.compile(r"[0-9]")
# What a phone is written with besides digits: "+7 (967) 123-45-67", "…45.67".
_PHONE_ONLY = re.compile(r"[0-9\s+()\-.…/]+")


@dataclass(frozen=True)
class Query:
    """A search query, read: `kind` is "", "email", "digits" or "words"."""

    text: str
    kind: str
    digits: str = ""

    @property
    def tail_range(self) -> tuple[str, str]:
        """The phone_tail range of "ends with these digits" (the last TAIL_DIGITS)."""
        return prefix_range(self.digits[-TAIL_DIGITS:][::-1])


def parse(raw: str) -> Query:
    """What the person typed, cleaned (invisible characters, spaces) and classified. A
    query of punctuation only, or too short to search, is of kind ""."""
    text = clean_line(raw or "")[:MAX_QUERY].strip()
    if not text:
        return Query(text, "")
    if "@" in text.strip("@"):
        return Query(text, "email")
    if _PHONE_ONLY.fullmatch(text):
        digits = "".join(_ASCII_DIGIT.findall(text))
        return Query(text, "digits", digits) if len(digits) >= MIN_DIGITS else Query(text, "")
    words = query_words(text)
    if not words or len(words[0]) < MIN_WORD:
        return Query(text, "")
    return Query(text, "words")


@dataclass(frozen=True)
class Hit:
    """One found record: what its line in the results shows."""

    kind: str
    pk: int
    title: str
    details: list[str]
    badge: str = ""
    badge_colour: str = ""


@dataclass
class Group:
    """The results of one kind, newest first; `more`: there were more than shown."""

    kind: str
    label: Any
    url_name: str
    list_url_name: str
    hits: list[Hit] = field(default_factory=list)
    more: bool = False


@dataclass
class Results:
    query: Query
    groups: list[Group]

    @property
    def count(self) -> int:
        return sum(len(group.hits) for group in self.groups)


def _may_view(actor: Membership, entity: str) -> bool:
    return scope_for(actor, entity, Action.VIEW) != Scope.NONE


def _cut(rows: list, limit: int) -> tuple[list, bool]:
    return rows[:limit], len(rows) > limit


# --- Leads --------------------------------------------------------------------------------


def _lead_words(query: Query, *, actor: Membership) -> tuple[list[int], bool]:
    """Ids of the newest leads the actor may view whose words begin with the query's
    (leads.selectors.name_matches, from the LeadWord indexes), and whether there were more."""
    if query.kind != "words" or not _may_view(actor, Entity.LEAD):
        return [], False
    return leads_selectors.name_matches(query.text, actor=actor)


def _leads(
    query: Query, *, actor: Membership, limit: int, words: tuple[list[int], bool]
) -> tuple[list[Hit], bool]:
    visible = leads_selectors.lead_list(actor=actor).select_related(None)
    ids, capped = words
    if query.kind == "digits":
        low, high = query.tail_range
        found = visible.filter(phone_tail__gte=low, phone_tail__lt=high)
    elif query.kind == "email":
        found = visible.filter(email_key=email_key(query.text))
    else:
        if not ids:
            return [], False
        # The newest matches (name_matches gives them newest first, visible only): a lead
        # among them may be archived or in the trash, hence a few times the page's number.
        found = visible.filter(pk__in=ids[: NAME_CANDIDATES * (limit + 1)])
        capped = capped or len(ids) > limit
    rows = leads_selectors.row_values(found.order_by("-created_at", "-pk")[: limit + 1])
    rows, more = _cut(rows, limit)
    hits = [
        Hit(
            kind="lead",
            pk=row.pk,
            title=row.title,
            details=[part for part in (row.name, row.company_name, row.phone, row.email) if part],
            badge=row.status_name,
            badge_colour=row.status_color,
        )
        for row in rows
    ]
    return hits, more or capped


# --- Contacts and companies ---------------------------------------------------------------


def _keys(model: type, q: Q) -> QuerySet[MatchKey]:
    field_name = "contact" if model is Contact else "company"
    return MatchKey.objects.filter(q, **{f"{field_name}__isnull": False}).values(field_name)


def _tail_keys(query: Query) -> Q:
    low, high = query.tail_range
    return Q(kind=MatchKey.Kind.PHONE_TAIL, value__gte=low, value__lt=high)


def _parties(
    model: type, query: Query, *, actor: Membership, region: str, limit: int
) -> tuple[list[Hit], bool]:
    visible = contacts_selectors.record_list(actor=actor, model=model)
    if query.kind == "digits":
        keys = _tail_keys(query)
        if model is Company and len(query.digits) in (10, 12):
            keys |= Q(kind=MatchKey.Kind.TAX_ID, value=tax_id_key(query.text))
        found = visible.filter(pk__in=_keys(model, keys))
    else:
        found = contacts_selectors.search(visible, query.text, region=region)
    rows, more = _cut(list(found.order_by("-created_at", "-pk")[: limit + 1]), limit)
    if model is Contact:
        hits = [
            Hit(
                kind="contact",
                pk=c.pk,
                title=c.full_name,
                details=_firsts(c.company.name if c.company_id else "", c.position, c),
            )
            for c in rows
        ]
    else:
        hits = [
            Hit(
                kind="company",
                pk=c.pk,
                title=c.name,
                details=_firsts(_("INN %(inn)s") % {"inn": c.tax_id} if c.tax_id else "", "", c),
            )
            for c in rows
        ]
    return hits, more


def _firsts(first: str, second: str, record: Contact | Company) -> list[str]:
    phones = record.phones if isinstance(record.phones, list) else []
    emails = record.emails if isinstance(record.emails, list) else []
    parts = [first, second, str(phones[0]) if phones else "", str(emails[0]) if emails else ""]
    return [part for part in parts if part]


# --- Deals --------------------------------------------------------------------------------


# Candidate deals read per way of finding them, at most this many each.
DEAL_CANDIDATES = 1000


def _deals(
    query: Query, *, actor: Membership, limit: int, lead_ids: list[int] | None
) -> tuple[list[Hit], bool]:
    """Deals found by whom they are for — their contact's or company's phones, e-mails, name
    words and INN (match keys) — and by the lead they came from (its name words, company,
    phone). Not by a word inside the title: that is a scan of every deal under row-level
    security (0.45 s at 235k deals); the deal list's own search does it.

    The candidates' ids come first, one index a way (the deal's contact, company, source
    lead); the visible newest of them then by primary key. One statement with the ways
    OR-ed walked every deal of the tenant newest first (230 ms at 235k deals)."""
    ways: list[QuerySet] = []
    if query.kind == "digits":
        keys = _tail_keys(query)
        if len(query.digits) in (10, 12):
            keys |= Q(kind=MatchKey.Kind.TAX_ID, value=tax_id_key(query.text))
        low, high = query.tail_range
        leads = Lead.objects.filter(phone_tail__gte=low, phone_tail__lt=high).values("pk")
        ways += [*_customer_deals(keys), Deal.objects.filter(source_lead__in=leads)]
    elif query.kind == "email":
        key = email_key(query.text)
        leads = Lead.objects.filter(email_key=key).values("pk")
        ways += [
            *_customer_deals(Q(kind=MatchKey.Kind.EMAIL, value=key)),
            Deal.objects.filter(source_lead__in=leads),
        ]
    else:
        ways += _deal_words(query.text)
        if lead_ids:
            ways.append(Deal.objects.filter(source_lead_id__in=lead_ids))
    ids: set[int] = set()
    capped = False
    for way in ways:
        found = list(way.values_list("pk", flat=True)[:DEAL_CANDIDATES])
        capped = capped or len(found) == DEAL_CANDIDATES
        ids.update(found)
    if not ids:
        return [], False
    visible = deals_selectors.deal_list(actor=actor).filter(pk__in=sorted(ids))
    rows, more = _cut(list(visible.order_by("-created_at", "-pk")[: limit + 1]), limit)
    hits = [
        Hit(
            kind="deal",
            pk=deal.pk,
            title=deal.title,
            details=[
                part
                for part in (
                    deal.contact.full_name if deal.contact_id else "",
                    deal.company.name if deal.company_id else "",
                    _amount(deal.amount, deal.currency),
                )
                if part
            ],
            badge=deal.stage.name,
            badge_colour=deal.stage.color,
        )
        for deal in rows
    ]
    return hits, more or capped


def _customer_deals(keys: Q) -> list[QuerySet]:
    """Deals whose contact, and deals whose company, has one of these match keys."""
    return [
        Deal.objects.filter(contact__in=_keys(Contact, keys)),
        Deal.objects.filter(company__in=_keys(Company, keys)),
    ]


def _deal_words(text: str) -> list[QuerySet]:
    """Deals whose contact, and deals whose company, has name words starting with every
    word of `text`."""
    words = sorted(name_words(text))
    if not words:
        return []
    ways = []
    for model, field_name in ((Contact, "contact__in"), (Company, "company__in")):
        parties = model.objects.filter(pk__in=_keys(model, _word_key(words[0])))
        for word in words[1:]:
            parties = parties.filter(pk__in=_keys(model, _word_key(word)))
        ways.append(Deal.objects.filter(**{field_name: parties.values("pk")}))
    return ways


def _word_key(word: str) -> Q:
    return Q(kind=MatchKey.Kind.WORD, value__gte=word, value__lt=prefix_upper_bound(word))


def _amount(amount: Decimal, currency: str) -> str:
    if not amount:
        return ""
    text = f"{amount:,.0f}".replace(",", "\u00a0")
    return f"{text} {currency}".strip()


# --- All kinds ----------------------------------------------------------------------------


def search_everything(*, actor: Membership, raw: str, region: str, limit: int) -> Results:
    """The records the actor may view that match `raw`, by kind (leads, deals, contacts,
    companies; a kind the actor may not view is left out), at most `limit` a kind."""
    query = parse(raw)
    groups: list[Group] = []
    if not query.kind:
        return Results(query, groups)
    words = _lead_words(query, actor=actor)
    if _may_view(actor, Entity.LEAD):
        hits, more = _leads(query, actor=actor, limit=limit, words=words)
        groups.append(Group("lead", _("Leads"), "leads:detail", "leads:list", hits, more))
    if _may_view(actor, Entity.DEAL):
        hits, more = _deals(query, actor=actor, limit=limit, lead_ids=words[0])
        groups.append(Group("deal", _("Deals"), "deals:detail", "deals:list", hits, more))
    for model, kind, label, ns in (
        (Contact, "contact", _("Contacts"), "contacts"),
        (Company, "company", _("Companies"), "companies"),
    ):
        if _may_view(actor, model.access_entity):
            hits, more = _parties(model, query, actor=actor, region=region, limit=limit)
            groups.append(Group(kind, label, f"{ns}:detail", f"{ns}:list", hits, more))
    return Results(query, [group for group in groups if group.hits])
