"""htmx helpers of deal fields in other forms (the conversion dialog's stage menu)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from crm.access import Action, Entity, check_entity
from crm.ids import parse_id
from deals import selectors
from deals.models import Outcome


@require_GET
def stage_options(request: HttpRequest) -> HttpResponse:
    """The <option>s of the open stages of ?pipeline= (none for an unknown pipeline)."""
    check_entity(actor=request.membership, entity=Entity.DEAL, action=Action.CREATE)
    pipeline_id = parse_id(request.GET.get("pipeline", ""))
    pipeline = selectors.pipelines().filter(pk=pipeline_id).first() if pipeline_id else None
    stages = (
        list(selectors.stages(pipeline).filter(kind=Outcome.OPEN)) if pipeline is not None else []
    )
    response = render(request, "deals/_stage_options.html", {"stages": stages})
    patch_vary_headers(response, ["HX-Request"])
    return response
