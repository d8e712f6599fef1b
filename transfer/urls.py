"""Import and export pages under /<workspace>/transfer/ (a list's own export URL is its
app's: leads:export, contacts:export, companies:export, deals:export)."""

from django.urls import path

from transfer.views import exports

app_name = "transfer"

urlpatterns = [
    path("exports/", exports.export_jobs, name="exports"),
    path("exports/<int:pk>/", exports.export_detail, name="export_detail"),
    path("exports/<int:pk>/download/", exports.export_download, name="export_download"),
]
