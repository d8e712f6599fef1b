"""The benchmarks judge their budgets (bench/run.py and bench/ingest/run.py from
interleaved pairs, bench/analytics.py against the raw aggregate): built from synthetic
results, no server needed."""

from __future__ import annotations

from typing import Any

from bench import analytics as analytics_bench
from bench import run as inbox_bench
from bench.ingest import run as ingest_bench


def _inbox_results(inbox_rps: list[float], floor_rps: list[float]) -> dict[str, Any]:
    page = {"p50": 12.0, "p95": 14.0, "p99": 16.0}
    return {
        "inbox": {**page, "rps_windows": inbox_rps, "floor_rps_windows": floor_rps},
        "phone": page,
        "name": page,
        "board": page,
    }


def _by_name(budgets: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {b["budget"]: b for b in budgets}


def test_inbox_throughput_is_judged_on_the_median_of_its_pairs():
    # One window of each side disturbed by a neighbour: the pairs' median holds.
    results = _inbox_results([120, 118, 60, 125, 121], [200, 210, 205, 100, 215])

    judged = _by_name(inbox_bench.budgets(1_000_000, results))["inbox req/s ≥ 50% of the floor's"]

    assert [p["ratio"] for p in judged["pairs"]] == [0.6, 0.5619, 0.2927, 1.25, 0.5628]
    assert judged["ratio"]["median"] == 0.5628
    assert judged["ok"] is True


def test_inbox_throughput_missed_in_the_median_fails_the_run():
    results = _inbox_results([90, 95, 92, 130, 94], [200] * 5)

    budgets = inbox_bench.budgets(1_000_000, results)

    assert _by_name(budgets)["inbox req/s ≥ 50% of the floor's"]["ok"] is False
    assert sum(not b["ok"] for b in budgets) == 1  # the latency budgets are met


def _pair(endpoint_p99: float, trivial_p99: float, rate: float = 200.0) -> dict[str, Any]:
    outcome = {"lost": 0, "duplicated": 0, "refused": 0}
    return {
        "endpoint": {"latency_ms": {"p99": endpoint_p99}, "rate": rate, **outcome},
        "trivial": {"latency_ms": {"p99": trivial_p99}, "rate": 200.0},
    }


def _cycle(
    burst_p99: float, idle_p99: float, leads: float, tasks: float, lost: int = 0
) -> dict[str, Any]:
    return {
        "idle": {"p99": idle_p99},
        "burst": {
            "inbox": {"p99": burst_p99},
            "e2e_leads_per_s": leads,
            "lost": lost,
            "duplicated": 0,
            "refused": 0,
        },
        "floor": {"tasks_per_s": tasks},
    }


def _ingest(pairs: list[dict[str, Any]], cycles: list[dict[str, Any]]) -> dict[str, Any]:
    results = {"endpoint_pairs": pairs, "cycles": cycles}
    lost = sum(c["burst"]["lost"] for c in cycles)
    results["totals"] = {
        "lost": lost,
        "duplicated": 0,
        "refused": 0,
        "enqueue_ms": {"p50": 0.45},
    }
    return results


def test_ingest_budgets_are_the_medians_of_their_pairs():
    pairs = [_pair(24, 9), _pair(30, 8), _pair(90, 10), _pair(20, 9), _pair(25, 10)]
    cycles = [
        _cycle(32, 20, 260, 850),
        _cycle(70, 20, 250, 900),
        _cycle(30, 22, 270, 820),
        _cycle(35, 21, 120, 840),
        _cycle(33, 24, 255, 800),
    ]

    judged = _by_name(ingest_bench.budgets(_ingest(pairs, cycles), rate=200))

    endpoint = judged[ingest_bench.ENDPOINT_P99.name]
    assert endpoint["ratio"]["median"] == 2.6667  # 24 / 9: the 90 ms window is one pair
    assert endpoint["ratio"]["max"] == 9.0
    assert endpoint["ok"] is True
    assert judged[ingest_bench.END_TO_END.name]["ratio"]["median"] == 0.3059
    assert judged[ingest_bench.END_TO_END.name]["ok"] is True
    assert judged[ingest_bench.INBOX_BURST.name]["ratio"]["median"] == 1.6
    assert judged[ingest_bench.INBOX_BURST.name]["ok"] is True
    assert all(b["ok"] for b in judged.values())


def _endpoint(pairs: list[dict[str, Any]]) -> dict[str, Any]:
    cycles = [_cycle(32, 20, 260, 850)] * 5
    judged = _by_name(ingest_bench.budgets(_ingest(pairs, cycles), rate=200))
    return judged[ingest_bench.ENDPOINT_P99.name]


def test_an_endpoint_that_could_not_keep_the_rate_misses_the_budget():
    # The box could not post 200/s: the two endpoints were not compared at the same rate.
    rates = [150, 160, 190, 200, 155]
    endpoint = _endpoint([_pair(24, 9, rate=r) for r in rates])

    assert endpoint["ok"] is False
    assert "the endpoint kept 160 of 200 requests/s (median)" in endpoint["value"]


def test_one_window_a_neighbour_slowed_does_not_decide_the_rate():
    rates = [200, 199, 120, 200, 198]

    assert _endpoint([_pair(24, 9, rate=r) for r in rates])["ok"] is True


def test_a_lost_delivery_misses_the_budget_whatever_the_ratios():
    pairs = [_pair(24, 9)] * 5
    cycles = [_cycle(32, 20, 260, 850)] * 4 + [_cycle(32, 20, 260, 850, lost=1)]

    judged = _by_name(ingest_bench.budgets(_ingest(pairs, cycles), rate=200))

    assert judged["zero lost, duplicated or refused deliveries"]["ok"] is False
    assert judged[ingest_bench.INBOX_BURST.name]["ok"] is True


def test_phone_blocks_never_overlap():
    phones = ingest_bench.Phones(1000)

    assert phones.take(100) == 1000
    assert phones.take(2 * ingest_bench.WRK_STRIDE) == 1100
    assert phones.take(1) == 1100 + 2 * ingest_bench.WRK_STRIDE


def test_the_profile_keeps_the_runs_with_the_usual_statements():
    from bench.explain import typical

    def run(count: int, tag: str) -> list[dict[str, str]]:
        return [{"sql": f"q{i}", "time": "0.001", "run": tag} for i in range(count)]

    # The second run refilled the tenant cache (one query more): it is left out.
    runs = [run(10, "a"), run(11, "b"), run(10, "c")]

    kept = typical(runs)

    assert [r[0]["run"] for r in kept] == ["a", "c"]
    # A tie keeps the latest run's kind.
    assert [r[0]["run"] for r in typical([run(10, "a"), run(11, "b")])] == ["b"]


def _mixed_pair(mixed_p99: float, trivial_p99: float, rate: float = 200.0) -> dict[str, Any]:
    return {
        "mixed": {"latency_ms": {"p99": mixed_p99}, "rate": rate},
        "trivial": {"latency_ms": {"p99": trivial_p99}, "rate": 200.0},
    }


def test_the_mixed_run_is_judged_on_its_own_pairs():
    pairs = [_pair(24, 9)] * 5
    cycles = [_cycle(32, 20, 260, 850)] * 5
    results = _ingest(pairs, cycles)
    results["mixed_pairs"] = [_mixed_pair(p, 10) for p in (25, 40, 28, 90, 31)]

    judged = _by_name(ingest_bench.budgets(results, rate=200))

    mixed = judged[ingest_bench.MIXED_P99.name]
    assert mixed["ratio"]["median"] == 3.1  # 31 / 10: over 3×, though the endpoint met its own
    assert mixed["ok"] is False
    assert judged[ingest_bench.ENDPOINT_P99.name]["ok"] is True
    # Without a mixed run (--mixed-pairs 0) there is no such budget.
    del results["mixed_pairs"]
    assert ingest_bench.MIXED_P99.name not in _by_name(ingest_bench.budgets(results, rate=200))


def test_a_mixed_window_that_could_not_keep_the_rate_misses_its_budget():
    pairs = [_pair(24, 9)] * 5
    results = _ingest(pairs, [_cycle(32, 20, 260, 850)] * 5)
    results["mixed_pairs"] = [_mixed_pair(20, 10, rate=r) for r in (150, 150, 150, 200, 200)]

    mixed = _by_name(ingest_bench.budgets(results, rate=200))[ingest_bench.MIXED_P99.name]

    assert mixed["ok"] is False
    assert "the mixed kept 150 of 200 requests/s (median)" in mixed["value"]


def _kind(stored: int, done: int, leads: int) -> dict[str, Any]:
    return {"events": {}, "stored": stored, "done": done, "leads": leads}


def test_a_mixed_delivery_not_processed_or_making_no_lead_is_lost():
    outcome = {
        "kinds": {
            "api": _kind(10, 10, 10),
            "vk": _kind(10, 10, 0),  # processed, but no lead: the payload drifted
            "pbx": _kind(9, 9, 9),  # one answered 202 but never stored
            "whatsapp": _kind(10, 8, 8),  # two stored, not done
        },
        "leads": 29,  # the tenant's leads since the window began
    }
    sent = {kind: {"sent": 10, "accepted": 10} for kind in outcome["kinds"]}

    judged = ingest_bench.mixed_losses(outcome, sent)

    lost = {kind: k["lost"] for kind, k in judged["kinds"].items()}
    assert lost == {"api": 0, "vk": 10, "pbx": 1, "whatsapp": 2}
    assert judged["lost"] == 13
    assert judged["duplicated"] == 0  # 29 leads of 40 deliveries
    duplicated = ingest_bench.mixed_losses(
        {"kinds": {"api": _kind(10, 10, 10)}, "leads": 12}, {"api": {"sent": 10, "accepted": 10}}
    )
    assert (duplicated["lost"], duplicated["duplicated"]) == (0, 2)


def _analytics_row(rollups: str, page: str, p95: float, floor_p95: float) -> dict[str, Any]:
    return {
        "rollups": rollups,
        "period": "last_30_days",
        "page": page,
        "p95": p95,
        "floor_p95": floor_p95,
        "ratio_p95": round(p95 / floor_p95, 2),
    }


def test_analytics_ratio_is_judged_against_the_raw_aggregate_of_the_same_figures():
    # With rollups the page's own SQL is 15 ms; the same figures from the leads, 120 ms.
    results = [
        _analytics_row("on", "sources", 60.0, 15.0),
        _analytics_row("on", "speed", 400.0, 150.0),
        _analytics_row("off", "sources", 200.0, 120.0),
        _analytics_row("off", "speed", 420.0, 140.0),
    ]
    analytics_bench.raw_floors(results)

    judged = _by_name(analytics_bench.budgets(1_000_000, results))

    sources = judged["sources p95 ≤ 2.5× its raw aggregate"]
    assert sources["ok"] is True
    assert sources["value"] == "0.5× (its own SQL: 4.0×)"
    speed = judged["speed p95 ≤ 2.5× its raw aggregate"]
    assert speed["value"] == "2.86× (its own SQL: 2.67×)"
    assert speed["ok"] is False
    assert judged["speed p95 ≤ 300 ms"]["ok"] is False
    # Only the first path measured is judged.
    assert len(judged) == 4


def test_analytics_ratio_without_the_raw_path_is_its_own_sql():
    results = [_analytics_row("on", "losses", 52.0, 15.0)]
    analytics_bench.raw_floors(results)

    judged = _by_name(analytics_bench.budgets(1_000_000, results))

    assert judged["losses p95 ≤ 2.5× its raw aggregate"]["ok"] is False
    assert results[0]["raw_p95"] == 15.0
