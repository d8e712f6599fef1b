"""URLs of leads, under /<tenant-slug>/leads/."""

from django.urls import path

from crm.modes import classic_only
from leads.views import (
    card,
    convert,
    inline,
    inquiry,
    lists,
    live,
    qualify,
    rules,
    scoring,
    statuses,
)
from transfer.views import exports

app_name = "leads"

urlpatterns = [
    path("inbox/", lists.inbox, name="inbox"),
    # Open pages poll it (crm.live: unchanged polls are answered before the view).
    path("live/", live.poll, name="live"),
    path("", lists.lead_list, name="list"),
    path("board/", lists.kanban, name="kanban"),
    path("quick/", lists.quick_create, name="quick_create"),
    path("bulk/", lists.bulk, name="bulk"),
    path("export/", exports.export_list, {"entity": "leads"}, name="export"),
    path("new/", card.create, name="create"),
    path("new/duplicates/", inquiry.duplicates, name="duplicates"),
    path("trash/", lists.trash, name="trash"),
    path("<int:pk>/", card.detail, name="detail"),
    path("<int:pk>/edit/", card.edit, name="edit"),
    path("<int:pk>/field/<slug:field>/", inline.field, name="field"),
    path("<int:pk>/move/", card.move, name="move"),
    path("<int:pk>/take/", card.take, name="take"),
    path("<int:pk>/convert/", convert.convert, name="convert"),
    path("<int:pk>/assign/", card.assign, name="assign"),
    path("<int:pk>/activities/", card.activity_add, name="activity_add"),
    path("<int:pk>/activities/<int:activity_pk>/done/", card.activity_done, name="activity_done"),
    path("<int:pk>/delete/", card.delete, name="delete"),
    path("<int:pk>/archive/", card.archive, name="archive"),
    path("<int:pk>/unarchive/", card.unarchive, name="unarchive"),
    path("<int:pk>/spam/", card.spam, name="spam"),
    path("<int:pk>/postpone/", card.postpone, name="postpone"),
    path("<int:pk>/unpostpone/", card.unpostpone, name="unpostpone"),
    path("<int:pk>/restore/", card.restore, name="restore"),
    path("<int:pk>/qualification/", qualify.panel, name="qualification"),
    path("<int:pk>/qualification/level/", qualify.level, name="level"),
    path("<int:pk>/qualification/temperature/", qualify.temperature, name="temperature"),
    path("<int:pk>/qualification/task/", qualify.task, name="qualify_task"),
    path("<int:pk>/qualification/<slug:framework>/", qualify.answers, name="answers"),
    path("settings/statuses/", statuses.statuses, name="statuses"),
    path("settings/statuses/<int:pk>/", statuses.status_edit, name="status_edit"),
    path("settings/statuses/<int:pk>/default/", statuses.status_default, name="status_default"),
    path("settings/statuses/<int:pk>/delete/", statuses.status_delete, name="status_delete"),
    path("settings/distribution/", rules.rules, name="rules"),
    path("settings/distribution/new/", rules.rule_create, name="rule_create"),
    path("settings/distribution/<int:pk>/", rules.rule_edit, name="rule_edit"),
    path("settings/distribution/<int:pk>/move/", rules.rule_move, name="rule_move"),
    path("settings/distribution/<int:pk>/toggle/", rules.rule_toggle, name="rule_toggle"),
    path("settings/distribution/<int:pk>/delete/", rules.rule_delete, name="rule_delete"),
    path("scoring/", scoring.scoring, name="scoring"),
    path("scoring/preview/", scoring.scoring_preview, name="scoring_preview"),
    path("scoring/rules/new/", scoring.scoring_rule_create, name="scoring_rule_create"),
    path(
        "scoring/rules/new/preview/",
        scoring.scoring_rule_preview_new,
        name="scoring_rule_preview_new",
    ),
    path("scoring/rules/<int:pk>/", scoring.scoring_rule_edit, name="scoring_rule_edit"),
    path(
        "scoring/rules/<int:pk>/preview/",
        scoring.scoring_rule_preview,
        name="scoring_rule_preview",
    ),
    path("scoring/rules/<int:pk>/move/", scoring.scoring_rule_move, name="scoring_rule_move"),
    path("scoring/rules/<int:pk>/toggle/", scoring.scoring_rule_toggle, name="scoring_rule_toggle"),
    path("scoring/rules/<int:pk>/delete/", scoring.scoring_rule_delete, name="scoring_rule_delete"),
]

# A simple-mode tenant has no leads: every lead URL answers 404 (the leads are kept).
for pattern in urlpatterns:
    pattern.callback = classic_only(pattern.callback)
