"""The application's URLs with the floor page in front of them."""

from django.urls import path

from bench.aggregates import aggregates
from bench.floor import floor, ping
from crm.urls import handler403, handler404, handler500
from crm.urls import urlpatterns as app_urlpatterns

urlpatterns = [
    path("bench/floor/<slug:slug>/", floor, name="bench_floor"),
    path("bench/ping/", ping, name="bench_ping"),
    path("bench/aggregates/<slug:slug>/<slug:report>/", aggregates, name="bench_aggregates"),
    *app_urlpatterns,
]

__all__ = ["handler403", "handler404", "handler500", "urlpatterns"]
