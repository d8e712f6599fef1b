"""Id lookups with a hostile integer match nothing instead of overflowing the driver.

Django answers `exact`/`lt`/… on an integer column given an integer outside the column's
range without asking the database (no row can match), but not `in`, nor lookups through a
foreign key (`contact_id=10**30`, `owner__in=[…]`): there SQLite raises OverflowError — a
list filter or a multiple choice given a huge id would answer 500. These lookups, installed
at start on every integer and foreign key column, treat such values the same way.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import EmptyResultSet, FieldError
from django.db.models import ForeignObject, IntegerField
from django.db.models.fields.related_lookups import RelatedExact, RelatedIn
from django.db.models.lookups import In


class _InRange:
    """Knows the integer range of the lookup's column (the target's, through a key)."""

    lhs: Any
    rhs: Any

    def _fits(self, connection: Any) -> Any:
        field = self.lhs.output_field
        try:
            field = getattr(field, "target_field", field)
        except FieldError:  # a relation over several columns: no single range to check
            return lambda value: True
        kind = field.get_internal_type()
        if kind not in connection.ops.integer_field_ranges:
            return lambda value: True
        low, high = connection.ops.integer_field_range(kind)
        return lambda value: (
            not isinstance(value, int)
            or ((low is None or value >= low) and (high is None or value <= high))
        )


class IntegerFieldIn(_InRange, In):
    """`in` without the values outside the column's range (with none left it matches
    nothing, as an empty `in` does)."""

    def process_rhs(self, compiler: Any, connection: Any) -> Any:
        if self.rhs_is_direct_value():
            fits = self._fits(connection)
            self.rhs = [value for value in self.rhs if fits(value)]
        return super().process_rhs(compiler, connection)


class RelatedInRange(_InRange, RelatedIn):
    """`in` through a foreign key, likewise."""

    def process_rhs(self, compiler: Any, connection: Any) -> Any:
        if self.rhs_is_direct_value():
            fits = self._fits(connection)
            self.rhs = [value for value in self.rhs if fits(value)]
        return super().process_rhs(compiler, connection)


class RelatedExactInRange(_InRange, RelatedExact):
    """`=` through a foreign key: a value outside the key's range matches nothing."""

    def process_rhs(self, compiler: Any, connection: Any) -> Any:
        if self.rhs_is_direct_value() and not self._fits(connection)(self.rhs):
            raise EmptyResultSet
        return super().process_rhs(compiler, connection)


def register() -> None:
    """Install the lookups (CrmConfig.ready)."""
    IntegerField.register_lookup(IntegerFieldIn)
    ForeignObject.register_lookup(RelatedInRange)
    ForeignObject.register_lookup(RelatedExactInRange)
