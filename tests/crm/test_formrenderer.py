"""Our select.html (no include per <option>) makes the HTML Django's own template makes."""

from __future__ import annotations

from django import forms
from django.forms.renderers import DjangoTemplates


class SampleForm(forms.Form):
    plain = forms.ChoiceField(choices=[("", "—"), ("a", "A & <b>"), ('q"', "Quote")])
    grouped = forms.MultipleChoiceField(
        choices=[("Fruit", [("1", "Apple"), ("2", "Pear")]), ("3", "Other")], required=False
    )


def test_selects_match_djangos_templates():
    data = {"plain": 'q"', "grouped": ["2", "3"]}
    ours = SampleForm(data)  # settings.FORM_RENDERER: the project's templates first
    djangos = SampleForm(data, renderer=DjangoTemplates())
    for name in ("plain", "grouped"):
        attrs = {"class": "form-select", "data-x": "<>"}
        assert ours[name].as_widget(attrs=attrs) == djangos[name].as_widget(attrs=attrs)
    assert 'value="q&quot;" selected' in str(ours["plain"])
    assert "A &amp; &lt;b&gt;" in str(ours["plain"])
