"""Settings → Pipelines: add, rename, reorder and delete pipelines; their stages' names,
colours, kinds, probabilities and order; delete a stage moving its deals."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from crm.access import TenantRight, require_right
from crm.errors import DomainError
from crm.urlnames import tenant_reverse
from deals import selectors, services
from deals.forms import PipelineDeleteForm, PipelineForm, StageDeleteForm, StageForm
from deals.models import Outcome


def _to_pipeline(request: HttpRequest, pk: int) -> HttpResponse:
    return redirect(tenant_reverse("deals:pipeline_edit", request.tenant, pk=pk))


@require_http_methods(["GET", "POST"])
@require_right(TenantRight.SETTINGS)
def pipelines(request: HttpRequest) -> HttpResponse:
    """The pipelines with their stages, and a form to add a pipeline."""
    form = PipelineForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            pipeline = services.pipeline_save(
                actor=request.membership, pipeline=None, data=form.cleaned_data
            )
        except DomainError as error:
            form.add_error("name", error.message)
        else:
            messages.success(request, _("Pipeline added."))
            return _to_pipeline(request, pipeline.pk)
    stages = list(selectors.stages())
    rows = [(p, [s for s in stages if s.pipeline_id == p.pk]) for p in selectors.pipelines()]
    return render(
        request,
        "deals/pipeline_list.html",
        {"rows": rows, "form": form, "section": "pipelines"},
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
@require_right(TenantRight.SETTINGS)
def pipeline_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Rename a pipeline; its stages with counts, and a form to add a stage."""
    pipeline = selectors.pipeline_get(pipeline_id=pk)
    adding = request.POST.get("form") == "stage"
    form = PipelineForm(None if adding else request.POST or None, instance=pipeline)
    stage_form = StageForm(
        request.POST if adding else None,
        initial={"color": "#6c757d", "kind": Outcome.OPEN, "probability": 50},
        prefix="stage",
    )
    if request.method == "POST":
        bound = stage_form if adding else form
        if bound.is_valid():
            try:
                if adding:
                    services.stage_save(
                        actor=request.membership,
                        pipeline=pipeline,
                        stage=None,
                        data=stage_form.cleaned_data,
                    )
                else:
                    services.pipeline_save(
                        actor=request.membership, pipeline=pipeline, data=form.cleaned_data
                    )
            except DomainError as error:
                bound.add_error("name", error.message)
            else:
                messages.success(request, _("Saved."))
                return _to_pipeline(request, pipeline.pk)
    context = {
        "pipeline": pipeline,
        "form": form,
        "stage_form": stage_form,
        "delete_form": PipelineDeleteForm(pipeline=pipeline),
        "stages": list(selectors.stages_with_counts(pipeline)),
        "section": "pipelines",
    }
    failed = form.errors or stage_form.errors
    return render(request, "deals/pipeline_form.html", context, status=400 if failed else 200)


@require_POST
@require_right(TenantRight.SETTINGS)
def pipeline_default(request: HttpRequest, pk: int) -> HttpResponse:
    pipeline = selectors.pipeline_get(pipeline_id=pk)
    services.pipeline_make_default(actor=request.membership, pipeline=pipeline)
    messages.success(request, _("New deals now go to “%(name)s”.") % {"name": pipeline.name})
    return redirect(tenant_reverse("deals:pipelines", request.tenant))


@require_POST
@require_right(TenantRight.SETTINGS)
def pipeline_delete(request: HttpRequest, pk: int) -> HttpResponse:
    pipeline = selectors.pipeline_get(pipeline_id=pk)
    form = PipelineDeleteForm(request.POST, pipeline=pipeline)
    if form.is_valid():
        try:
            moved = services.pipeline_delete(
                actor=request.membership,
                pipeline=pipeline,
                replacement=form.cleaned_data["replacement"],
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request, _("Pipeline deleted; %(count)s deals moved.") % {"count": moved}
            )
            return redirect(tenant_reverse("deals:pipelines", request.tenant))
    else:
        messages.error(request, _("Choose another pipeline for its deals."))
    return _to_pipeline(request, pipeline.pk)


@require_http_methods(["GET", "POST"])
@require_right(TenantRight.SETTINGS)
def stage_edit(request: HttpRequest, pk: int) -> HttpResponse:
    stage = selectors.stage_get(stage_id=pk)
    form = StageForm(request.POST or None, instance=stage)
    if request.method == "POST" and form.is_valid():
        try:
            services.stage_save(
                actor=request.membership,
                pipeline=stage.pipeline,
                stage=stage,
                data=form.cleaned_data,
            )
        except DomainError as error:
            form.add_error("name", error.message)
        else:
            messages.success(request, _("Saved."))
            return _to_pipeline(request, stage.pipeline_id)
    context = {
        "stage": stage,
        "form": form,
        "delete_form": StageDeleteForm(stage=stage),
        "section": "pipelines",
    }
    return render(request, "deals/stage_form.html", context, status=400 if form.errors else 200)


@require_POST
@require_right(TenantRight.SETTINGS)
def stage_delete(request: HttpRequest, pk: int) -> HttpResponse:
    stage = selectors.stage_get(stage_id=pk)
    form = StageDeleteForm(request.POST, stage=stage)
    if form.is_valid():
        try:
            moved = services.stage_delete(
                actor=request.membership, stage=stage, replacement=form.cleaned_data["replacement"]
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Stage deleted; %(count)s deals moved.") % {"count": moved})
            return _to_pipeline(request, stage.pipeline_id)
    else:
        messages.error(request, _("Choose another stage of the same kind for its deals."))
    return redirect(tenant_reverse("deals:stage_edit", request.tenant, pk=stage.pk))
