"""Import and export pages under /<workspace>/transfer/ (a list's own export URL is its
app's: leads:export, contacts:export, companies:export, deals:export)."""

from django.urls import path

from transfer.views import exports, imports

app_name = "transfer"

urlpatterns = [
    path("imports/", imports.import_list, name="import_list"),
    path("imports/new/", imports.import_new, name="import_new"),
    path("imports/<int:pk>/", imports.import_detail, name="import_detail"),
    path("imports/<int:pk>/columns/", imports.import_columns, name="import_columns"),
    path("imports/<int:pk>/check/", imports.import_check, name="import_check"),
    path("imports/<int:pk>/progress/", imports.import_progress, name="import_progress"),
    path("imports/<int:pk>/cancel/", imports.import_cancel, name="import_cancel"),
    path("imports/<int:pk>/undo/", imports.import_undo, name="import_undo"),
    path("imports/<int:pk>/rejected.csv", imports.import_rejected, name="import_rejected"),
    path(
        "imports/template/<str:entity>.<str:fmt>",
        imports.import_template,
        name="import_template",
    ),
    path("exports/", exports.export_jobs, name="exports"),
    path("exports/<int:pk>/", exports.export_detail, name="export_detail"),
    path("exports/<int:pk>/download/", exports.export_download, name="export_download"),
]
