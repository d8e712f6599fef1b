"""Figures as text (analytics.formats): counts, money and shares read as Django's own
number formatting reads them in the page's language, however they are computed."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from django.utils import translation
from django.utils.formats import number_format

from analytics.formats import figure_text, grouped


@pytest.mark.parametrize("language", ["ru", "en", "hi"])
def test_grouped_figures_read_as_djangos_number_format(language):
    # "hi" groups 3, 2, 2…: the general formatter's path.
    picked = random.Random(13)
    values = [0, -0.0, -0.04, 0.05, 2.675, 999.95, 10**15, -(10**9)]
    values += [picked.uniform(-1e7, 1e7) for _ in range(300)]
    values += [Decimal(picked.randint(-(10**12), 10**12)) / 100 for _ in range(300)]
    with translation.override(language):
        for value in values:
            for places in (0, 1):
                rounded = (
                    Decimal(value).quantize(Decimal(1))
                    if places == 0
                    else round(float(value), places)
                )
                assert grouped(value, places) == number_format(
                    rounded, places, force_grouping=True
                ), (value, places)


def test_figures_in_russian():
    with translation.override("ru"):
        assert figure_text(1234567, "count") == "1\xa0234\xa0567"
        assert figure_text(Decimal("8201.5"), "money", "RUB") == "8\xa0202 RUB"
        assert figure_text(12.345, "percent") == "12,3 %"
        assert figure_text(-0.2, "money") == "0"
        assert figure_text(None, "count") == ""
