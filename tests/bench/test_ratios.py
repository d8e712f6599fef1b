"""The benchmarks' budgets as ratios to an interleaved floor (bench/ratios.py): each pair's
ratio, the median that is judged, the range, and the table a run prints."""

from __future__ import annotations

import pytest

from bench import ratios

THROUGHPUT = ratios.RatioBudget(
    name="inbox req/s ≥ 50% of the floor's",
    subject="inbox req/s",
    floor="floor req/s",
    bound=0.5,
    at_least=True,
    percent=True,
)
LATENCY = ratios.RatioBudget(
    name="endpoint p99 ≤ 3× the trivial endpoint's",
    subject="endpoint p99 ms",
    floor="trivial p99 ms",
    bound=3.0,
    at_least=False,
)


def test_each_pair_is_the_subject_over_its_own_floor():
    judged = ratios.judge(THROUGHPUT, [(50, 100), (120, 200), (30, 100), (90, 100), (60, 100)])

    assert [p["ratio"] for p in judged["pairs"]] == [0.5, 0.6, 0.3, 0.9, 0.6]
    assert judged["pairs"][1] == {"subject": 120, "floor": 200, "ratio": 0.6}


def test_the_median_ratio_is_judged_not_the_ratio_of_medians_nor_one_outlier():
    # Two slow floor windows (a neighbour's burst) make two pairs look great; one slow inbox
    # window makes one look bad: the median ignores all three.
    pairs = [(100, 100), (40, 100), (45, 100), (48, 100), (100, 110)]
    judged = ratios.judge(THROUGHPUT, pairs)

    assert judged["ratio"]["median"] == 0.48
    assert judged["ratio"]["min"] == 0.4
    assert judged["ratio"]["max"] == 1.0
    assert judged["ok"] is False
    assert judged["value"] == "median 48% (40%–100%, 5 pairs)"


def test_an_even_number_of_pairs_takes_the_middle_two():
    judged = ratios.judge(LATENCY, [(2, 1), (4, 1), (1, 1), (3, 1), (5, 1), (6, 1)])

    assert judged["ratio"]["median"] == 3.5
    assert judged["ok"] is False


@pytest.mark.parametrize(
    ("budget", "ratio_value", "ok"),
    [
        (THROUGHPUT, 0.5, True),  # at the line counts as met
        (THROUGHPUT, 0.49, False),
        (THROUGHPUT, 0.7, True),
        (LATENCY, 3.0, True),
        (LATENCY, 3.01, False),
        (LATENCY, 1.2, True),
    ],
)
def test_at_least_and_at_most_budgets(budget, ratio_value, ok):
    judged = ratios.judge(budget, [(ratio_value * 100, 100)] * 5)

    assert judged["ok"] is ok
    assert judged["ratio"]["bound"] == budget.bound
    assert judged["ratio"]["at_least"] is budget.at_least


def test_fewer_than_five_pairs_are_refused():
    with pytest.raises(ValueError, match="4 pairs, at least 5"):
        ratios.judge(THROUGHPUT, [(1, 2)] * 4)


def test_a_floor_that_measured_nothing_is_an_error_not_an_infinite_ratio():
    with pytest.raises(ValueError, match="floor 0"):
        ratios.judge(LATENCY, [(10, 5), (10, 5), (10, 0), (10, 5), (10, 5)])


def test_ratios_show_as_percent_or_times():
    assert THROUGHPUT.show(0.625) == "62%"
    assert LATENCY.show(1.4) == "1.40×"


def test_the_table_lists_every_pair_then_the_median_range_budget_and_verdict():
    judged = ratios.judge(LATENCY, [(30, 10), (20, 10), (45, 10), (25, 10), (28, 14)])

    lines = ratios.table(LATENCY, judged)

    assert lines[0] == "| pair | endpoint p99 ms | trivial p99 ms | ratio |"
    assert lines[2] == "| 1 | 30 | 10 | 3.00× |"
    assert lines[4] == "| 3 | 45 | 10 | 4.50× |"
    assert len(lines) == 2 + 5 + 1
    assert lines[-1] == (
        "| **median** | 28 | 10 | **2.50×** (range 2.00×–4.50×); budget ≤ 3.00×: met |"
    )


def test_the_table_says_missed_when_the_median_misses():
    judged = ratios.judge(THROUGHPUT, [(40, 100)] * 5)

    assert ratios.table(THROUGHPUT, judged)[-1].endswith("budget ≥ 50%: **missed** |")
