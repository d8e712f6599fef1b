"""Colours a tenant picks (lead statuses, deal stages, the web form widget's accent).

They are written into pages (SVG `fill`, the widget's styles), so only `#rrggbb` is a
colour: `#` and six hexadecimal digits. Stored lowercase.
"""

from __future__ import annotations

import re

from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

HEX_COLOUR = r"^#[0-9a-fA-F]{6}\Z"
HEX_COLOUR_RE = re.compile(HEX_COLOUR)
DEFAULT_COLOUR = "#6c757d"

validate_colour = RegexValidator(
    HEX_COLOUR, _("Give a colour as #rrggbb, e.g. #2457d6."), code="invalid_colour"
)
