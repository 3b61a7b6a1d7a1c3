"""Benchmark summaries on a small hand-made `episodes.jsonl` whose figures are known."""

from __future__ import annotations

import csv
import json
import math
import statistics
from pathlib import Path

import pytest

from environments import GoalReport, Task
from planner.errors import PlannerError
from planner.ledger import LLMCall, TokenLedger
from planner.result import EpisodeResult, TokenReport
from planner.summary import (
    BenchSummary,
    EpisodeRecord,
    Interval,
    MethodSummary,
    load_prices,
    price_of,
    read_records,
    summarise,
    write_summary,
)

LLM = "openai:gpt-x"
PRICES = {
    "_comment": "USD per 1M tokens",
    LLM: {"prompt": 2.0, "completion": 10.0},
    "openai": {"prompt": 4.0, "completion": 8.0},
    "default": {"prompt": 1.0, "completion": 1.0},
}
TASKS = {
    "A": Task(id="A", title="Task A", category="Cat 1"),
    "B": Task(id="B", title="Task B", category="Cat 1"),
    "C": Task(id="C", title="Task C", category="Cat 2"),
    "D": Task(id="D", title="Task D", category="Cat 2"),
}


def call(prompt: int, completion: int, *, cached: bool = False, estimated: bool = False) -> LLMCall:
    return LLMCall(
        phase="plan_sampling",
        prompt_tokens=prompt,
        completion_tokens=completion,
        cached=cached,
        estimated=estimated,
    )


def record(
    method: str,
    task: str,
    *,
    seed: int = 0,
    plans: str = "live",
    success: bool = False,
    gcr: float = 0.0,
    executable: bool = False,
    calls: tuple[LLMCall, ...] = (),
    corrections: int = 0,
    wall: float = 1.0,
    error: str | None = None,
    llm: str = LLM,
) -> EpisodeRecord:
    """A record with a result built directly (`llm_calls` = the number of ledger calls)."""
    report = GoalReport(
        conditions_met=round(gcr * 4),
        conditions_total=4,
        success=success,
        gcr=gcr,
        executable=executable,
    )
    result = EpisodeResult(
        task=TASKS[task],
        method=method,
        llm=llm,
        seed=seed,
        corrections=corrections,
        llm_calls=len(calls),
        report=report,
        tokens=TokenReport.of(TokenLedger(calls=list(calls))),
        wall_time_s=wall,
        stop_reason="error" if error else "end",
        error=error,
    )
    return EpisodeRecord(method=method, task=task, seed=seed, plans=plans, result=result)


def failed(method: str, task: str, error: str, *, seed: int = 0) -> EpisodeRecord:
    """A record of an episode that raised."""
    return EpisodeRecord(method=method, task=task, seed=seed, error=error)


def records() -> list[EpisodeRecord]:
    return [
        # tree-planner: SR 1,0,0; GCR 1, .5, 0; EXEC 1,1,0
        record(
            "tree-planner",
            "A",
            success=True,
            gcr=1.0,
            executable=True,
            calls=(call(1000, 500), call(200, 10, cached=True)),
            corrections=1,
            wall=2.0,
        ),
        record(
            "tree-planner",
            "B",
            gcr=0.5,
            executable=True,
            calls=(call(1000, 300),),
            corrections=3,
            wall=4.0,
        ),
        record("tree-planner", "C", calls=(call(500, 100),), corrections=2, wall=6.0),
        # Unpaired: no baseline ran seed 1.
        record("tree-planner", "A", seed=1, calls=(call(99999, 1),), corrections=50),
        # zero-shot: B raised first and was retried; D has no tree-planner episode.
        record("zero-shot", "A", success=True, gcr=1.0, executable=True, calls=(call(2000, 1000),)),
        failed("zero-shot", "B", "RuntimeError: boom"),
        record("zero-shot", "B", gcr=0.25, calls=(call(2000, 0),)),
        record("zero-shot", "C", calls=(call(1000, 1000),)),
        record("zero-shot", "D", calls=(call(50000, 50000),)),
        # zero-shot with recorded plans: not paired with live tree-planner episodes.
        record("zero-shot", "A", plans="recorded:m", calls=(call(0, 7, estimated=True),)),
        # local-replan: paired on A and B.
        record("local-replan", "A", calls=(call(3000, 1000),), corrections=4),
        record("local-replan", "B", calls=(call(1000, 0),), corrections=2),
        # iterative: no tokens, no corrections; its B ended on an LLM error.
        record("iterative", "A"),
        record("iterative", "B", error="model call failed"),
        # tree-planner-nc is not a baseline of the ratios.
        record("tree-planner-nc", "A", calls=(call(10, 10),)),
        # global-replan only raised.
        failed("global-replan", "A", "ValueError: bad"),
    ]


def write_jsonl(path: Path, items: list[EpisodeRecord]) -> None:
    path.write_text("".join(r.model_dump_json() + "\n" for r in items), "utf-8")


@pytest.fixture
def prices_file(tmp_path) -> Path:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(PRICES), "utf-8")
    return path


@pytest.fixture
def summary(tmp_path, prices_file) -> BenchSummary:
    path = tmp_path / "episodes.jsonl"
    write_jsonl(path, records())
    return summarise(read_records(path), load_prices(prices_file))


def by_method(summary: BenchSummary, method: str, plans: str = "live") -> MethodSummary:
    (found,) = [m for m in summary.methods if m.method == method and m.plans == plans]
    return found


def ci(values: list[float]) -> float:
    return 1.96 * statistics.stdev(values) / math.sqrt(len(values))


# -- intervals ---------------------------------------------------------------------------------


def test_interval_is_the_mean_with_the_normal_95_half_width_of_the_sample_sd():
    values = [1.0, 0.0, 0.0, 1.0, 1.0]
    interval = Interval.of(values)

    assert interval.mean == pytest.approx(0.6)
    assert interval.ci95 == pytest.approx(1.96 * math.sqrt(0.3) / math.sqrt(5))
    assert str(interval) == f"0.600 ± {1.96 * math.sqrt(0.3 / 5):.3f}"


def test_interval_of_one_or_no_value_has_no_width():
    assert Interval.of([0.7]) == Interval(mean=0.7, ci95=0.0)
    assert Interval.of([]) == Interval(mean=0.0, ci95=0.0)
    assert Interval.of([0.5, 0.5, 0.5]).ci95 == 0.0


# -- per-method figures ------------------------------------------------------------------------


def test_one_summary_per_method_and_plan_source(summary):
    keys = sorted((m.method, m.plans) for m in summary.methods)

    assert keys == [
        ("global-replan", "live"),
        ("iterative", "live"),
        ("local-replan", "live"),
        ("tree-planner", "live"),
        ("tree-planner-nc", "live"),
        ("zero-shot", "live"),
        ("zero-shot", "recorded:m"),
    ]


def test_means_and_confidence_intervals(summary):
    tree = by_method(summary, "tree-planner")
    sr, gcr, exe = [1.0, 0.0, 0.0, 0.0], [1.0, 0.5, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0]

    assert tree.episodes == 4
    assert tree.errors == 0
    assert tree.sr.mean == pytest.approx(0.25)
    assert tree.sr.ci95 == pytest.approx(ci(sr))
    assert tree.gcr.mean == pytest.approx(0.375)
    assert tree.gcr.ci95 == pytest.approx(ci(gcr))
    assert tree.exec.mean == pytest.approx(0.5)
    assert tree.exec.ci95 == pytest.approx(ci(exe))
    assert tree.corrections == pytest.approx((1 + 3 + 2 + 50) / 4)
    assert tree.wall_time_s == pytest.approx((2 + 4 + 6 + 1) / 4)
    assert tree.llm_calls == pytest.approx((2 + 1 + 1 + 1) / 4)
    assert tree.prompt_tokens == pytest.approx((1200 + 1000 + 500 + 99999) / 4)
    assert tree.completion_tokens == pytest.approx((510 + 300 + 100 + 1) / 4)
    assert tree.tokens_estimated is False


def test_the_last_record_of_an_episode_wins(summary):
    zero = by_method(summary, "zero-shot")

    # B raised, then was retried: counted once, with the retry's result, and not as an error.
    assert zero.episodes == 4
    assert zero.errors == 0
    assert zero.gcr.mean == pytest.approx((1.0 + 0.25 + 0.0 + 0.0) / 4)
    assert zero.sr.mean == pytest.approx(0.25)


def test_the_last_record_wins_also_when_it_is_an_error(prices_file):
    items = [record("zero-shot", "A", success=True, gcr=1.0), failed("zero-shot", "A", "E: x")]
    zero = summarise(items, load_prices(prices_file)).methods[0]

    assert (zero.episodes, zero.errors) == (0, 1)
    assert zero.sr.mean == 0.0


def test_errors_count_raised_episodes_and_episodes_ended_by_an_llm_error(summary):
    iterative = by_method(summary, "iterative")
    replan = by_method(summary, "global-replan")

    assert (iterative.episodes, iterative.errors) == (2, 1)
    assert (replan.episodes, replan.errors) == (0, 1)
    assert replan.sr == Interval(mean=0.0, ci95=0.0)
    assert replan.prompt_tokens == 0.0


def test_costs_come_from_the_price_table_and_cached_calls_cost_nothing(summary):
    tree = by_method(summary, "tree-planner")
    costs = [
        (1000 * 2 + 500 * 10) / 1e6,  # the cached call of A is free
        (1000 * 2 + 300 * 10) / 1e6,
        (500 * 2 + 100 * 10) / 1e6,
        (99999 * 2 + 1 * 10) / 1e6,
    ]

    assert tree.cost_usd == pytest.approx(sum(costs) / 4)
    assert tree.tokens_from_cache == pytest.approx(210 / 4)
    assert by_method(summary, "zero-shot").tokens_from_cache == 0.0


def test_a_model_missing_from_the_table_falls_back_to_its_provider_then_default(prices_file):
    prices = load_prices(prices_file)

    assert "_comment" not in prices
    assert price_of(LLM, prices) == {"prompt": 2.0, "completion": 10.0}
    assert price_of("openai:other", prices) == {"prompt": 4.0, "completion": 8.0}
    assert price_of("local", prices) == {"prompt": 1.0, "completion": 1.0}
    items = [
        record("zero-shot", "A", calls=(call(1_000_000, 1_000_000),), llm="openai:other"),
        record("zero-shot", "B", calls=(call(1_000_000, 1_000_000),), llm="local:x"),
    ]
    assert summarise(items, prices).methods[0].cost_usd == pytest.approx((12.0 + 2.0) / 2)


def test_the_shipped_price_table_loads_and_a_missing_file_is_an_error(tmp_path):
    shipped = load_prices()

    assert shipped["local"] == {"prompt": 0.0, "completion": 0.0}
    assert all(not k.startswith("_") for k in shipped)
    with pytest.raises(PlannerError, match="cannot read the price table"):
        load_prices(tmp_path / "missing.json")


def test_estimated_tokens_are_flagged(summary):
    assert by_method(summary, "zero-shot", "recorded:m").tokens_estimated is True
    assert by_method(summary, "zero-shot").tokens_estimated is False


# -- ratios -------------------------------------------------------------------------------------


def test_ratios_pair_episodes_on_task_seed_and_plans(summary):
    ratios = {r.baseline: r for r in summary.ratios}

    # (global-replan has no result to pair, tree-planner-nc is not a baseline)
    assert sorted(ratios) == ["iterative", "local-replan", "zero-shot"]
    zero = ratios["zero-shot"]
    assert zero.paired_episodes == 3  # A, B, C (not D, not seed 1, not recorded plans)
    ours = 1710 + 1300 + 600
    assert zero.token_reduction == pytest.approx(1 - ours / (3000 + 2000 + 2000))
    assert zero.correction_reduction is None  # zero-shot made no correction

    local = ratios["local-replan"]
    assert local.paired_episodes == 2
    assert local.token_reduction == pytest.approx(1 - (1710 + 1300) / (4000 + 1000))
    assert local.correction_reduction == pytest.approx(1 - (1 + 3) / (4 + 2))


def test_a_ratio_against_a_baseline_without_tokens_is_none(summary):
    ratios = {r.baseline: r for r in summary.ratios}

    assert ratios["iterative"].paired_episodes == 2
    assert ratios["iterative"].token_reduction is None
    assert ratios["iterative"].correction_reduction is None


def test_no_ratio_without_baselines(prices_file):
    items = [record("tree-planner", "A"), record("tree-planner-nc", "A")]
    assert summarise(items, load_prices(prices_file)).ratios == []


# -- reading the JSONL --------------------------------------------------------------------------


def test_read_records_ignores_a_torn_last_line_and_blank_lines(tmp_path):
    path = tmp_path / "episodes.jsonl"
    items = records()[:3]
    torn = items[2].model_dump_json()[:57]
    path.write_text(
        items[0].model_dump_json() + "\n\n" + items[1].model_dump_json() + "\n" + torn, "utf-8"
    )

    assert read_records(path) == items[:2]
    assert read_records(tmp_path / "missing.jsonl") == []


def test_records_round_trip_through_the_jsonl(tmp_path):
    path = tmp_path / "episodes.jsonl"
    write_jsonl(path, records())

    assert read_records(path) == records()


# -- files ---------------------------------------------------------------------------------------

HEADER = [
    "method",
    "plans",
    "episodes",
    "errors",
    "EXEC",
    "SR",
    "GCR",
    "prompt tok/ep",
    "of which prefix-cached",
    "completion tok/ep",
    "tok from cache/ep",
    "cost $/ep",
    "corrections/ep",
    "LLM calls/ep",
    "wall s/ep",
]


def test_summary_csv_has_the_expected_columns_and_numbers(summary, tmp_path):
    write_summary(summary, tmp_path)
    with (tmp_path / "summary.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))

    assert list(rows[0]) == [*HEADER, "EXEC ci95", "SR ci95", "GCR ci95"]
    assert len(rows) == len(summary.methods)
    (tree,) = [r for r in rows if r["method"] == "tree-planner"]
    assert tree["plans"] == "live"
    assert (tree["episodes"], tree["errors"]) == ("4", "0")
    assert float(tree["SR"]) == pytest.approx(0.25)
    assert float(tree["GCR"]) == pytest.approx(0.375)
    assert float(tree["EXEC"]) == pytest.approx(0.5)
    assert float(tree["SR ci95"]) == pytest.approx(ci([1.0, 0.0, 0.0, 0.0]), abs=1e-4)
    assert float(tree["GCR ci95"]) == pytest.approx(ci([1.0, 0.5, 0.0, 0.0]), abs=1e-4)
    assert float(tree["corrections/ep"]) == pytest.approx(14.0)
    assert float(tree["tok from cache/ep"]) == pytest.approx(52.5)
    assert float(tree["wall s/ep"]) == pytest.approx(3.2, abs=0.05)


def test_summary_md_has_the_table_and_the_ratios(summary, tmp_path):
    write_summary(summary, tmp_path)
    text = (tmp_path / "summary.md").read_text("utf-8")
    lines = text.splitlines()

    assert lines[0] == "| " + " | ".join(HEADER) + " |"
    tree_row = next(ln for ln in lines if ln.startswith("| tree-planner | live |"))
    cells = [c.strip() for c in tree_row.strip("|").split("|")]
    assert cells[2:4] == ["4", "0"]
    assert cells[5] == str(by_method(summary, "tree-planner").sr)  # "0.250 ± 0.490"
    assert "±" in cells[4] and "±" in cells[6]
    assert "95% confidence interval" in text
    assert "tiktoken estimates" in text  # the recorded plans' tokens
    assert "| baseline | paired episodes | token reduction | correction reduction |" in text
    zero = 1 - 3610 / 7000
    assert f"| zero-shot | 3 | {zero:.1%} | n/a |" in lines
    assert "| local-replan | 2 | 39.8% | 33.3% |" in lines
    assert "| iterative | 2 | n/a | n/a |" in lines


def test_summary_md_without_estimates_or_ratios(tmp_path, prices_file):
    only = [record("tree-planner", "A", calls=(call(5, 5),))]
    summary = summarise(only, load_prices(prices_file))
    write_summary(summary, tmp_path)
    text = (tmp_path / "summary.md").read_text("utf-8")

    assert "tiktoken" not in text
    assert "paired episodes" not in text


def test_plots_are_written_as_png_files(summary, tmp_path):
    pytest.importorskip("matplotlib")
    from planner.plots import write_plots

    paths = write_plots(records(), summary, tmp_path)

    assert [p.name for p in paths] == ["tokens_vs_sr.png", "sr_by_category.png"]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size > 1000


def test_plots_of_a_run_whose_every_episode_raised_do_not_warn(tmp_path, prices_file):
    pytest.importorskip("matplotlib")
    from planner.plots import write_plots

    items = [failed("zero-shot", "A", "RuntimeError: boom")]
    summary = summarise(items, load_prices(prices_file))

    paths = write_plots(items, summary, tmp_path)
    assert all(p.is_file() for p in paths)
