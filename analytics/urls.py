"""Analytics URLs, under /<tenant-slug>/analytics/."""

from django.urls import path

from analytics import views

app_name = "analytics"

urlpatterns = [
    path("", views.dashboard_page, name="dashboard"),
    path("<slug:slug>/", views.report, name="report"),
]
