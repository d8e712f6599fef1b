"""HTML from outside (e-mail bodies) reduced to markup that is safe to show (nh3).

The only HTML the CRM shows that it did not write itself (STYLE: no `|safe` on user data
but e-mail HTML after nh3): no scripts, styles, event handlers, images, frames or forms;
links only http(s) and mailto, opening without referrer.
"""

from __future__ import annotations

import nh3
from django.utils.safestring import SafeString, mark_safe

MAX_HTML = 200_000
TAGS = {
    "a", "b", "blockquote", "br", "code", "div", "em", "font", "h1", "h2", "h3", "h4", "h5",
    "h6", "hr", "i", "li", "ol", "p", "pre", "s", "small", "span", "strong", "sub", "sup",
    "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
}  # fmt: skip
ATTRIBUTES = {"a": {"href", "title"}, "td": {"colspan", "rowspan"}, "th": {"colspan"}}


def sanitize_html(html: str) -> str:
    """`html` (its first MAX_HTML characters) with only safe tags and attributes left."""
    return nh3.clean(
        html[:MAX_HTML],
        tags=TAGS,
        clean_content_tags={"script", "style"},
        attributes=ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


def safe_html(html: str) -> SafeString:
    """Sanitized HTML marked safe for a template (sanitized again here, whatever stored it)."""
    return mark_safe(sanitize_html(html or ""))  # noqa: S308 - nh3 output
