"""URLs of deals, under /<tenant-slug>/deals/."""

from django.urls import path

from deals.views import card, inline, lists, loss_reasons, options, pipelines
from transfer.views import exports

app_name = "deals"

urlpatterns = [
    path("", lists.deal_list, name="list"),
    path("board/", lists.kanban, name="kanban"),
    path("bulk/", lists.bulk, name="bulk"),
    path("export/", exports.export_list, {"entity": "deals"}, name="export"),
    path("quick/", lists.quick_create, name="quick_create"),
    path("new/", card.create, name="create"),
    path("stages/options/", options.stage_options, name="stage_options"),
    path("<int:pk>/", card.detail, name="detail"),
    path("<int:pk>/edit/", card.edit, name="edit"),
    path("<int:pk>/field/<slug:field>/", inline.field, name="field"),
    path("<int:pk>/move/", card.move, name="move"),
    path("<int:pk>/activities/", card.activity_add, name="activity_add"),
    path("<int:pk>/activities/<int:activity_pk>/done/", card.activity_done, name="activity_done"),
    path("settings/pipelines/", pipelines.pipelines, name="pipelines"),
    path("settings/pipelines/<int:pk>/", pipelines.pipeline_edit, name="pipeline_edit"),
    path(
        "settings/pipelines/<int:pk>/default/",
        pipelines.pipeline_default,
        name="pipeline_default",
    ),
    path("settings/pipelines/<int:pk>/delete/", pipelines.pipeline_delete, name="pipeline_delete"),
    path("settings/stages/<int:pk>/", pipelines.stage_edit, name="stage_edit"),
    path("settings/stages/<int:pk>/delete/", pipelines.stage_delete, name="stage_delete"),
    path("settings/loss-reasons/", loss_reasons.loss_reasons, name="loss_reasons"),
    path("settings/loss-reasons/<int:pk>/", loss_reasons.loss_reason_edit, name="loss_reason_edit"),
    path(
        "settings/loss-reasons/<int:pk>/move/",
        loss_reasons.loss_reason_move,
        name="loss_reason_move",
    ),
    path(
        "settings/loss-reasons/<int:pk>/toggle/",
        loss_reasons.loss_reason_toggle,
        name="loss_reason_toggle",
    ),
]
