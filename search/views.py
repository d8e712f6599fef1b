"""The top-bar search: a dropdown as the member types (htmx), a page of results on Enter."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from search import selectors


@require_GET
def results(request: HttpRequest) -> HttpResponse:
    """Records the member may view that match `q`, grouped by kind. With `fragment=dropdown`
    (the box's htmx request) only the dropdown's few lines; otherwise the full page."""
    dropdown = request.GET.get("fragment") == "dropdown"
    found = selectors.search_everything(
        actor=request.membership,
        raw=request.GET.get("q", ""),
        region=request.tenant.default_region,
        limit=selectors.DROPDOWN_LIMIT if dropdown else selectors.PAGE_LIMIT,
    )
    context = {"results": found, "q": found.query.text, "search_query": found.query.text}
    if dropdown:
        return render(request, "search/_dropdown.html", context)
    return render(request, "search/results.html", context)
