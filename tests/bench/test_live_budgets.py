"""The live arrivals benchmark's budgets (bench/live.py), from synthetic windows."""

from __future__ import annotations

from typing import Any

from bench import live


def _window(kind: str, cpu: float, *, transactions: int = 0, rate: float = 133.3) -> dict:
    return {
        "kind": kind,
        "rate": rate,
        "web_cpu_s_per_min": cpu,
        "db_cpu_s_per_min": 0.0,
        "transactions": transactions,
        "transactions_per_min": transactions * 5,
        "latency_ms": {"p50": 1.5, "p99": 20.0},
        "cpu_ms_per_request": {"web": 1.1, "db": 0.0},
    }


def _pairs(live_cpu: list[float], floor_cpu: list[float], **live_extra: Any) -> list:
    return [
        (_window("live", a, **live_extra), _window("floor", b))
        for a, b in zip(live_cpu, floor_cpu, strict=True)
    ]


def _by_name(budgets: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {b["budget"]: b for b in budgets}


def test_idle_polls_are_judged_on_the_median_cpu_ratio_and_no_sql():
    # One floor window disturbed by a neighbour: the pairs' median holds.
    pairs = _pairs([8.4, 8.6, 9.0, 9.1, 8.8], [8.9, 8.4, 3.0, 9.3, 9.0])
    budgets = _by_name(live.budgets(pairs, 133.3))
    assert budgets[live.LIVE_CPU.name]["ratio"]["median"] == 0.9785
    assert all(b["ok"] for b in budgets.values())


def test_a_single_query_in_an_idle_window_fails_the_run():
    pairs = _pairs([8.0] * 5, [8.0] * 5)
    pairs[2] = (_window("live", 8.0, transactions=1), pairs[2][1])
    budgets = _by_name(live.budgets(pairs, 133.3))
    assert budgets["idle live polls: no SQL (transactions of the live windows)"]["ok"] is False


def test_polls_costing_twice_the_floor_miss_the_cpu_budget():
    budgets = _by_name(live.budgets(_pairs([18.0] * 5, [9.0] * 5), 133.3))
    assert budgets[live.LIVE_CPU.name]["ok"] is False


def test_a_server_that_could_not_keep_the_pace_misses():
    budgets = _by_name(live.budgets(_pairs([8.0] * 5, [8.0] * 5, rate=100.0), 133.3))
    assert budgets["both sides kept ≥ 95% of the rate (median of the windows)"]["ok"] is False


def test_the_report_renders():
    pairs = _pairs([8.0] * 5, [8.0] * 5)
    windows = [w for pair in pairs for w in pair] + [_window("stack", 17.0, transactions=100)]
    results = {
        kind: {
            "web_cpu_s_per_min": 8.0,
            "db_cpu_s_per_min": 0.0,
            "transactions_per_min": 0,
        }
        for kind in ("live", "floor", "stack")
    }
    report = {
        "date": "2026-12-05",
        "commit": "abc1234",
        "leads": 20_000,
        "slug": "big-20k",
        "email": "manager001@big-20k.bench.local",
        "rate": 133.3,
        "machine": {"cpu": "2 × test", "memory": "1 GiB", "python": "3.11"},
        "settings": {"tabs": 200, "interval": 1.5, "window": 12.0, "pairs": 5},
        "windows": windows,
        "results": results,
        "budgets": live.budgets(pairs, 133.3),
    }
    assert live.readme_row(report).startswith("| 2026-12-05 | `abc1234` | 200 tabs / 1.5 s |")
    assert "| stack | 133.3 |" in live.markdown(report)
