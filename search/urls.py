"""URLs of the top-bar search, under /<tenant-slug>/search/."""

from django.urls import path

from search import views

app_name = "search"

urlpatterns = [
    path("", views.results, name="results"),
]
