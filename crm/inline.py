"""Inline editing: one field of a card edited where it stands.

Clicking a value on a card (components/_inline.html) loads this field's input in its place
(components/_inline_form.html); Enter saves, Esc cancels (static/js/inline-edit.js). The
save is validated by the record's full edit form — bound to the record's current values
with only this field taken from the request, so every rule of the full form applies — and
written by the same service as the full form (which checks the rights and records the
history). Each app's view (leads/views/inline.py, …) says which fields and which service.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers

from crm import customfields
from crm.errors import DomainError


def edit(
    request: HttpRequest,
    *,
    form_class: type[forms.BaseForm],
    name: str,
    places: dict[str, str],
    save: Callable[[forms.BaseForm], None],
    saved: Callable[[], HttpResponse],
    page: Callable[[], HttpResponse],
    **kwargs: Any,
) -> HttpResponse:
    """One field's GET and POST, after the view's own checks. GET: its input (`places`: the
    `url`, `card` and `details` of render_form). POST: validated by the full form and written
    by `save` (a DomainError is told like a form error); then the card (`saved`, htmx) or the
    whole page (`page`, without JavaScript); what stops it is told in place (htmx) or as a
    message on the page. `kwargs` go to the form."""
    if request.method == "GET":
        form = current_form(form_class, name, **kwargs)
        return render_form(request, form=form, name=name, **places)
    form = bind_one(form_class, name=name, post=request.POST, **kwargs)
    errors = errors_of(form, name)
    if not errors:
        try:
            save(form)
        except DomainError as error:
            errors = [error.message]
    if errors and request.htmx:
        return render_form(request, form=form, name=name, errors=errors, status=400, **places)
    if errors:
        messages.error(request, " ".join(errors))
    return saved() if request.htmx and not errors else page()


def is_inline_field(name: str, fields: tuple[str, ...]) -> bool:
    """Whether `name` is one of a card's inline fields, or one of its custom fields."""
    return name in fields or name.startswith(customfields.PREFIX)


def current_form(form_class: type[forms.BaseForm], name: str, **kwargs: Any) -> forms.BaseForm:
    """The full form, unbound (the record's values), which must have field `name` (else 404)."""
    form = form_class(**kwargs)
    if name not in form.fields:
        raise Http404
    return form


def bind_one(
    form_class: type[forms.BaseForm], *, name: str, post: Any, **kwargs: Any
) -> forms.BaseForm:
    """The full form bound to the record's current values, with field `name` from `post`."""
    current = current_form(form_class, name, **kwargs)
    data: dict[str, Any] = {}
    for field_name in current.fields:
        value = current[field_name].value()
        if value is not None and value is not False:
            data[current.add_prefix(field_name)] = value
    key = current.add_prefix(name)
    value = current.fields[name].widget.value_from_datadict(post, {}, key)
    data.pop(key, None)
    if value is not None and value is not False:
        data[key] = value
    return form_class(data, **kwargs)


def errors_of(form: forms.BaseForm, name: str) -> list[str]:
    """What stops the save of field `name`: its own errors and the form's."""
    form.is_valid()
    return [*form.errors.get(name, []), *form.non_field_errors()]


def custom_value(form: forms.BaseForm, name: str, previous: dict[str, Any]) -> dict[str, Any]:
    """The record's `custom` with only the custom field `name` changed (from the form)."""
    key = name.removeprefix(customfields.PREFIX)
    custom = dict(previous or {})
    definition = next((d for d in form.custom_fields if d.key == key), None)  # type: ignore[attr-defined]
    if definition is None:
        raise Http404
    value = customfields.to_json(definition, form.cleaned_data.get(name))
    if value is None:
        custom.pop(key, None)
    else:
        custom[key] = value
    return custom


def render_form(
    request: HttpRequest,
    *,
    form: forms.BaseForm,
    name: str,
    url: str,
    card: str,
    details: str,
    errors: list[str] | None = None,
    status: int = 200,
) -> HttpResponse:
    """The field's input in place of its value (with the errors under it). `card`: what a
    save re-renders; `details`: what a cancel re-renders (CSS selectors)."""
    context = {
        "field": form[name],
        "url": url,
        "card": card,
        "details": details,
        "errors": errors or [],
        "form_id": f"inline-{name}",
    }
    response = render(request, "components/_inline_form.html", context, status=status)
    if status >= 400:  # the form itself again, where it stands (the save aimed at the card)
        response["HX-Retarget"] = f"#inline-{name}"
        response["HX-Reswap"] = "outerHTML"
    patch_vary_headers(response, ["HX-Request"])
    return response
