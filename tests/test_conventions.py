"""Convention tests (Zulip-style): dangerous patterns are forbidden by a test, not a review.

Each rule is a function over a module's source; it is shown to catch a bad example and to
pass a good one, then applied to every application module.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = (
    "crm",
    "leads",
    "deals",
    "contacts",
    "intake",
    "channels",
    "transfer",
    "analytics",
    "search",
)

# Modules allowed to leave the tenant scope, each with its reason.
UNSCOPED_ALLOWED = {
    "crm/selectors.py": "tenant switcher: a user's memberships in all tenants (RLS-limited)",
}


def _modules() -> list[Path]:
    files = [p for app in APPS for p in (ROOT / app).rglob("*.py") if "migrations" not in p.parts]
    assert files
    return files


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def no_orm_in_views(path: str, source: str) -> list[str]:
    """Views call selectors and services; they never query tenant models directly."""
    if "/views" not in path and not path.endswith("views.py"):
        return []
    return re.findall(r"\.objects\.\w+\(|\.unscoped\.\w+\(", source)


def scopes_disabled_only_where_allowed(path: str, source: str) -> list[str]:
    if path in UNSCOPED_ALLOWED:
        return []
    return re.findall(r"scopes_disabled\(|\.unscoped\b", source)


def no_mark_safe_on_formatted_text(path: str, source: str) -> list[str]:
    return re.findall(r"mark_safe\(\s*f[\"']|format_html\(\s*f[\"']", source)


def no_gettext_of_fstrings(path: str, source: str) -> list[str]:
    return re.findall(r"\b(?:_|gettext|gettext_lazy|ngettext|pgettext)\(\s*f[\"']", source)


def no_print(path: str, source: str) -> list[str]:
    tree = ast.parse(source)
    return [
        "print()"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "print"
    ]


# Periodic fan-out tasks enqueue outside any transaction: they run on the worker itself
# (crm/celery.py: queue_for_every_tenant, which the beat entry points call); the embedded
# setup's scheduler (crm/scheduler.py) runs the beat entries outside any transaction too;
# an import's task hands over to its next one between committed batches (transfer/tasks.py).
FAN_OUT_ALLOWED = {
    "leads/tasks.py",
    "contacts/tasks.py",
    "channels/tasks.py",
    "transfer/tasks.py",
    "crm/celery.py",
    "crm/scheduler.py",
}
# Modules that publish from a function they hand to `transaction.on_commit` (with broker
# failure handling), so the rule cannot see the call inside the on_commit argument.
ON_COMMIT_PUBLISHERS = {"channels/services.py", "crm/background.py", "leads/rescoring.py"}


def delay_only_on_commit(path: str, source: str) -> list[str]:
    """`.delay()`/`.apply_async()` only inside a `transaction.on_commit(...)` argument."""
    if path in FAN_OUT_ALLOWED or path in ON_COMMIT_PUBLISHERS:
        return []
    tree = ast.parse(source)
    inside: set[int] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "on_commit"
        ):
            inside.update(id(n) for arg in node.args for n in ast.walk(arg))
    return [
        f"line {node.lineno}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "attr", "") in {"delay", "apply_async"}
        and id(node) not in inside
    ]


def no_nullable_strings(path: str, source: str) -> list[str]:
    tree = ast.parse(source)
    bad = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", "")
            in {"CharField", "TextField", "SlugField", "EmailField"}
            and any(
                k.arg == "null" and getattr(k.value, "value", False) is True for k in node.keywords
            )
        ):
            bad.append(f"line {node.lineno}")
    return bad


# Apps stand in layers; a module may import its own app and the apps below it (STYLE §1:
# channels → intake → leads → deals → contacts → crm; transfer (import/export) goes through
# intake like a channel; analytics and search read everything).
LAYERS = {
    "crm": 0,
    "contacts": 1,
    "deals": 2,
    "leads": 3,
    "intake": 4,
    "channels": 5,
    "transfer": 5,
    "analytics": 6,
    "search": 6,
}
# Modules that put apps together and so may import any of them: views (a page combines
# what several apps know), URL confs, template tags, demo seeders and commands.
COMPOSERS = re.compile(
    r"(^|/)(views|templatetags|management)/|(^|/)(views|urls|demo)\.py$|_urls\.py$"
)


def _imported_apps(source: str) -> set[tuple[str, int]]:
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found |= {(name.split(".")[0], node.lineno) for name in names}
    return found


def imports_point_down(path: str, source: str) -> list[str]:
    app = path.split("/")[0]
    if app not in LAYERS or COMPOSERS.search(path):
        return []
    return [
        f"line {line}: {other}"
        for other, line in sorted(_imported_apps(source))
        if other in LAYERS and other != app and LAYERS[other] >= LAYERS[app]
    ]


RULES: dict[Callable[[str, str], list[str]], tuple[tuple[str, str], tuple[str, str]]] = {
    # rule: ((path, bad source), (path, good source))
    no_orm_in_views: (
        ("crm/views/x.py", "lead = Lead.objects.get(pk=pk)"),
        ("crm/views/x.py", "lead = selectors.lead_get(lead_id=pk)"),
    ),
    scopes_disabled_only_where_allowed: (
        ("leads/services.py", "with scopes_disabled():\n    pass"),
        ("crm/selectors.py", "Membership.unscoped.filter(user=user)"),
    ),
    no_mark_safe_on_formatted_text: (
        ("crm/x.py", 'mark_safe(f"<b>{name}</b>")'),
        ("crm/x.py", 'format_html("<b>{}</b>", name)'),
    ),
    no_gettext_of_fstrings: (
        ("crm/x.py", '_(f"Hello {name}")'),
        ("crm/x.py", '_("Hello %(name)s") % {"name": name}'),
    ),
    no_print: (("crm/x.py", "print('debug')"), ("crm/x.py", "logger.info('debug')")),
    delay_only_on_commit: (
        ("crm/x.py", "task.delay(tenant_id=1)"),
        ("crm/x.py", "transaction.on_commit(lambda: task.delay(tenant_id=1))"),
    ),
    imports_point_down: (
        ("deals/services.py", "def f():\n    from leads.models import Lead"),
        ("leads/services.py", "from deals.services import deal_create"),
    ),
    no_nullable_strings: (
        ("crm/x.py", "name = models.CharField(max_length=5, null=True)"),
        ("crm/x.py", "name = models.CharField(max_length=5, blank=True)"),
    ),
}


@pytest.mark.parametrize("rule", list(RULES), ids=lambda r: r.__name__)
def test_rule_catches_its_bad_example_and_passes_the_good_one(rule):
    (bad_path, bad), (good_path, good) = RULES[rule]
    assert rule(bad_path, bad), "the rule missed its bad example"
    assert not rule(good_path, good), "the rule flagged its good example"


@pytest.mark.parametrize("rule", list(RULES), ids=lambda r: r.__name__)
def test_codebase_follows_the_rule(rule):
    offences = {}
    for path in _modules():
        found = rule(_rel(path), path.read_text(encoding="utf-8"))
        if found:
            offences[_rel(path)] = found
    assert offences == {}


def test_unscoped_allow_list_is_not_stale():
    for path in UNSCOPED_ALLOWED:
        source = (ROOT / path).read_text(encoding="utf-8")
        assert re.search(r"scopes_disabled\(|\.unscoped\b", source), (
            f"{path} no longer needs its exemption"
        )
