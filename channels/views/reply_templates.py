"""Settings → Reply templates: the workspace's saved replies (settings right)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from channels import conversations
from channels.models import ReplyTemplate
from channels.reply_templates import ReplyTemplateForm, reply_template_delete, reply_template_save
from crm.access import TenantRight, require_right
from crm.errors import DomainError
from crm.urlnames import tenant_reverse

SECTION = "reply_templates"


def _get(pk: int) -> ReplyTemplate:
    template = conversations.template_get(pk)
    if template is None:
        raise Http404
    return template


def _to_list(request: HttpRequest) -> HttpResponse:
    return redirect(tenant_reverse("channels:templates", request.tenant))


@require_http_methods(["GET", "POST"])
@require_right(TenantRight.SETTINGS)
def template_list(request: HttpRequest) -> HttpResponse:
    """The saved replies and a form to add one."""
    form = ReplyTemplateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            reply_template_save(actor=request.membership, template=None, data=form.cleaned_data)
        except DomainError as error:
            form.add_error("name", error.message)
        else:
            messages.success(request, _("Template added."))
            return _to_list(request)
    context = {"templates": conversations.template_list(), "form": form, "section": SECTION}
    status = 400 if form.errors else 200
    return render(request, "channels/reply_template_list.html", context, status=status)


@require_http_methods(["GET", "POST"])
@require_right(TenantRight.SETTINGS)
def template_edit(request: HttpRequest, pk: int) -> HttpResponse:
    template = _get(pk)
    form = ReplyTemplateForm(request.POST or None, instance=template)
    if request.method == "POST" and form.is_valid():
        try:
            reply_template_save(actor=request.membership, template=_get(pk), data=form.cleaned_data)
        except DomainError as error:
            form.add_error("name", error.message)
        else:
            messages.success(request, _("Saved."))
            return _to_list(request)
    context = {"template": template, "form": form, "section": SECTION}
    status = 400 if form.errors else 200
    return render(request, "channels/reply_template_form.html", context, status=status)


@require_POST
@require_right(TenantRight.SETTINGS)
def template_delete(request: HttpRequest, pk: int) -> HttpResponse:
    template = _get(pk)
    reply_template_delete(actor=request.membership, template=template)
    messages.success(request, _("“%(name)s” deleted.") % {"name": template.name})
    return _to_list(request)
