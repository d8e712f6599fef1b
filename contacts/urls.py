"""URLs of contacts, under /<tenant-slug>/contacts/ (companies: contacts/company_urls.py)."""

from django.urls import path

from contacts.views import blocklist, card, inline, lists, merge
from contacts.views.kinds import CONTACTS, Kind
from transfer.views import exports

app_name = "contacts"


def record_urls(kind: Kind) -> list:
    """The URLs of one record kind (contacts here, companies in contacts/company_urls.py)."""
    k = {"kind": kind}
    return [
        path("", lists.record_list, k, name="list"),
        path("new/", card.create, k, name="create"),
        path("trash/", lists.trash, k, name="trash"),
        path("options/", lists.options, k, name="options"),
        path("export/", exports.export_list, {"entity": kind.namespace}, name="export"),
        path("<int:pk>/", card.detail, k, name="detail"),
        path("<int:pk>/edit/", card.edit, k, name="edit"),
        path("<int:pk>/field/<slug:field>/", inline.field, k, name="field"),
        path("<int:pk>/activities/", card.activity_add, k, name="activity_add"),
        path(
            "<int:pk>/activities/<int:activity_pk>/done/",
            card.activity_done,
            k,
            name="activity_done",
        ),
        path("<int:pk>/delete/", card.delete, k, name="delete"),
        path("<int:pk>/restore/", card.restore, k, name="restore"),
        path("<int:pk>/merge/", merge.merge, k, name="merge"),
        path("merges/<int:pk>/undo/", merge.merge_undo, k, name="merge_undo"),
    ]


urlpatterns = [
    *record_urls(CONTACTS),
    path("settings/blocklist/", blocklist.blocklist, name="blocklist"),
    path(
        "settings/blocklist/<int:pk>/delete/", blocklist.blocklist_delete, name="blocklist_delete"
    ),
]
