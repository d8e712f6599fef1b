"""Amounts as people type them (crm/amounts.py): imports and the BANT budget read the same."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crm.amounts import parse_amount


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("1 234 567,89", "1234567.89"),
        ("1,234.56", "1234.56"),
        ("1.234,56", "1234.56"),
        ("$1,200", "1200.00"),
        ("15000 руб.", "15000.00"),
        ("150\u00a0000 ₽", "150000.00"),
        ("150 тыс", "150000.00"),
        ("150 тыс. руб", "150000.00"),
        ("1,5 млн", "1500000.00"),
        ("1.5 млн ₽", "1500000.00"),
        ("20k", "20000.00"),
        ("2 миллиона", "2000000.00"),
        ("\u2212500", "-500.00"),
        (1200, "1200.00"),
    ],
)
def test_amounts_in_any_spelling(text, amount):
    assert parse_amount(text) == Decimal(amount)


@pytest.mark.parametrize("text", ["много", "", "—", "руб."])
def test_what_is_no_amount_is_refused(text):
    with pytest.raises(ValueError, match="is not an amount"):
        parse_amount(text)


def test_an_amount_too_large_is_refused():
    with pytest.raises(ValueError, match="too large"):
        parse_amount("999 млрд 999")
