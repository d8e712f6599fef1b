"""URLs of companies, under /<tenant-slug>/companies/ (the same views as contacts)."""

from django.urls import path

from contacts.views import card, lists, merge
from contacts.views.kinds import COMPANIES

app_name = "companies"
KIND = {"kind": COMPANIES}

urlpatterns = [
    path("", lists.record_list, KIND, name="list"),
    path("new/", card.create, KIND, name="create"),
    path("trash/", lists.trash, KIND, name="trash"),
    path("options/", lists.options, KIND, name="options"),
    path("<int:pk>/", card.detail, KIND, name="detail"),
    path("<int:pk>/edit/", card.edit, KIND, name="edit"),
    path("<int:pk>/activities/", card.activity_add, KIND, name="activity_add"),
    path(
        "<int:pk>/activities/<int:activity_pk>/done/",
        card.activity_done,
        KIND,
        name="activity_done",
    ),
    path("<int:pk>/delete/", card.delete, KIND, name="delete"),
    path("<int:pk>/restore/", card.restore, KIND, name="restore"),
    path("<int:pk>/merge/", merge.merge, KIND, name="merge"),
    path("merges/<int:pk>/undo/", merge.merge_undo, KIND, name="merge_undo"),
]
