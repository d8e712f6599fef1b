"""The two kinds of records the views serve, and what differs between them."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from contacts.filters import CompanyFilter, ContactFilter, PartyFilter
from contacts.forms import CompanyForm, ContactForm, PartyForm
from contacts.models import Company, Contact, Party


@dataclass(frozen=True)
class Kind:
    """A record kind: its model, URL namespace, form, filter and page labels."""

    model: type[Party]
    namespace: str  # URL namespace and nav section: "contacts" or "companies"
    form: type[PartyForm]
    filter: type[PartyFilter]
    title: str | Promise
    name_label: str | Promise
    new_title: str | Promise
    more_label: str | Promise
    empty: str | Promise


CONTACTS = Kind(
    model=Contact,
    namespace="contacts",
    form=ContactForm,
    filter=ContactFilter,
    title=_("Contacts"),
    name_label=_("Full name"),
    new_title=_("New contact"),
    more_label=_("Older contacts"),
    empty=_("No contacts here."),
)
COMPANIES = Kind(
    model=Company,
    namespace="companies",
    form=CompanyForm,
    filter=CompanyFilter,
    title=_("Companies"),
    name_label=_("Name"),
    new_title=_("New company"),
    more_label=_("Older companies"),
    empty=_("No companies here."),
)
