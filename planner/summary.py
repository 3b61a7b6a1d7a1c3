"""Benchmark summaries from `episodes.jsonl`: per-method metrics with 95% confidence intervals,
cost from a price table, and the paper's ratios (Tree-Planner's tokens and corrections relative
to each baseline, on the episodes both ran)."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from planner.errors import PlannerError
from planner.result import EpisodeResult

REFERENCE_METHOD = "tree-planner"


class EpisodeRecord(BaseModel):
    """One line of `episodes.jsonl`: the episode's key and its result, or the error it raised."""

    method: str
    task: str
    seed: int
    plans: str = "live"
    result: EpisodeResult | None = None
    error: str | None = None

    @property
    def key(self) -> tuple[str, str, int, str]:
        return (self.method, self.task, self.seed, self.plans)


class Interval(BaseModel):
    """A mean with the half-width of its 95% confidence interval (normal approximation)."""

    mean: float
    ci95: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Interval:
        n = len(values)
        if n == 0:
            return cls(mean=0.0, ci95=0.0)
        mean = sum(values) / n
        if n < 2:
            return cls(mean=mean, ci95=0.0)
        variance = sum((v - mean) ** 2 for v in values) / (n - 1)
        return cls(mean=mean, ci95=1.96 * math.sqrt(variance / n))

    def __str__(self) -> str:
        return f"{self.mean:.3f} ± {self.ci95:.3f}"


class MethodSummary(BaseModel):
    """Aggregates of one method (and plan source) over its episodes."""

    method: str
    plans: str
    episodes: int
    errors: int = Field(description="episodes that raised, or ended on an LLM error")
    exec: Interval
    sr: Interval
    gcr: Interval
    prompt_tokens: float
    prompt_tokens_prefix_cached: float = Field(
        default=0.0, description="prompt tokens a model served from its own prefix/KV cache"
    )
    completion_tokens: float
    tokens_from_cache: float
    tokens_estimated: bool
    cost_usd: float
    corrections: float
    llm_calls: float
    wall_time_s: float


class Ratio(BaseModel):
    """Tree-Planner against one baseline on the episodes both ran: reductions in [0, 1]."""

    baseline: str
    paired_episodes: int
    token_reduction: float | None
    correction_reduction: float | None


class BenchSummary(BaseModel):
    """Everything `summary.md` and `summary.csv` show."""

    methods: list[MethodSummary]
    ratios: list[Ratio]


def read_records(path: Path) -> list[EpisodeRecord]:
    """Records of a JSONL file; a torn last line (from a killed run) is ignored."""
    records: list[EpisodeRecord] = []
    if not path.exists():
        return records
    for line in path.read_text("utf-8").splitlines():
        if not line.strip():
            continue
        try:
            records.append(EpisodeRecord.model_validate_json(line))
        except ValueError:
            continue
    return records


def load_prices(path: str | Path | None = None) -> dict[str, dict[str, float]]:
    """The price table (USD per 1M tokens): the shipped one, or a user's JSON file."""
    if path is None:
        text = resources.files("planner").joinpath("data", "prices.json").read_text("utf-8")
    else:
        try:
            text = Path(path).read_text("utf-8")
        except OSError as exc:
            raise PlannerError(f"cannot read the price table {path}: {exc}") from exc
    table = json.loads(text)
    return {k: v for k, v in table.items() if not k.startswith("_")}


def price_of(llm: str, prices: dict[str, dict[str, float]]) -> dict[str, float]:
    """The price entry of a model spec: exact, then its provider (`local`), then `default`."""
    return prices.get(llm) or prices.get(llm.split(":")[0]) or prices.get("default") or {}


def _cost(result: EpisodeResult, prices: dict[str, dict[str, float]]) -> float:
    price = price_of(result.llm, prices)
    spent = [c for c in result.tokens.calls if not c.cached]
    prompt = sum(c.prompt_tokens for c in spent)
    completion = sum(c.completion_tokens for c in spent)
    return (prompt * price.get("prompt", 0.0) + completion * price.get("completion", 0.0)) / 1e6


def _mean(values: Iterable[float]) -> float:
    items = list(values)
    return sum(items) / len(items) if items else 0.0


def summarise(
    records: Sequence[EpisodeRecord], prices: dict[str, dict[str, float]] | None = None
) -> BenchSummary:
    """Per-method summaries and Tree-Planner's ratios against each baseline."""
    prices = prices if prices is not None else load_prices()
    latest: dict[tuple[str, str, int, str], EpisodeRecord] = {}
    for record in records:  # a resumed run may retry an episode: the last record counts
        latest[record.key] = record
    records = list(latest.values())
    groups: dict[tuple[str, str], list[EpisodeRecord]] = {}
    for record in records:
        groups.setdefault((record.method, record.plans), []).append(record)
    methods = []
    for (method, plans), group in groups.items():
        results = [r.result for r in group if r.result is not None]
        methods.append(
            MethodSummary(
                method=method,
                plans=plans,
                episodes=len(results),
                errors=sum(1 for r in group if r.result is None or r.result.stop_reason == "error"),
                exec=Interval.of([float(r.executable) for r in results]),
                sr=Interval.of([float(r.success) for r in results]),
                gcr=Interval.of([r.gcr for r in results]),
                prompt_tokens=_mean(r.tokens.prompt_tokens for r in results),
                prompt_tokens_prefix_cached=_mean(
                    sum(c.cached_prompt_tokens for c in r.tokens.calls) for r in results
                ),
                completion_tokens=_mean(r.tokens.completion_tokens for r in results),
                tokens_from_cache=_mean(
                    sum(c.prompt_tokens + c.completion_tokens for c in r.tokens.calls if c.cached)
                    for r in results
                ),
                tokens_estimated=any(r.tokens.estimated for r in results),
                cost_usd=_mean(_cost(r, prices) for r in results),
                corrections=_mean(r.corrections for r in results),
                llm_calls=_mean(r.llm_calls for r in results),
                wall_time_s=_mean(r.wall_time_s for r in results),
            )
        )
    return BenchSummary(methods=methods, ratios=_ratios(records))


def _ratios(records: Sequence[EpisodeRecord]) -> list[Ratio]:
    by_key: dict[tuple[str, str, int, str], EpisodeResult] = {
        r.key: r.result for r in records if r.result is not None
    }
    reference = {k[1:]: v for k, v in by_key.items() if k[0] == REFERENCE_METHOD}
    baselines = sorted({k[0] for k in by_key} - {REFERENCE_METHOD, "tree-planner-nc"})
    ratios = []
    for baseline in baselines:
        pairs = [
            (reference[k[1:]], v)
            for k, v in by_key.items()
            if k[0] == baseline and k[1:] in reference
        ]
        ours_tokens = sum(a.tokens.total_tokens for a, _ in pairs)
        their_tokens = sum(b.tokens.total_tokens for _, b in pairs)
        ours_corr = sum(a.corrections for a, _ in pairs)
        their_corr = sum(b.corrections for _, b in pairs)
        ratios.append(
            Ratio(
                baseline=baseline,
                paired_episodes=len(pairs),
                token_reduction=1 - ours_tokens / their_tokens if their_tokens else None,
                correction_reduction=1 - ours_corr / their_corr if their_corr else None,
            )
        )
    return ratios


_COLUMNS = [
    ("method", "method"),
    ("plans", "plans"),
    ("episodes", "episodes"),
    ("errors", "errors"),
    ("EXEC", "exec"),
    ("SR", "sr"),
    ("GCR", "gcr"),
    ("prompt tok/ep", "prompt_tokens"),
    ("of which prefix-cached", "prompt_tokens_prefix_cached"),
    ("completion tok/ep", "completion_tokens"),
    ("tok from cache/ep", "tokens_from_cache"),
    ("cost $/ep", "cost_usd"),
    ("corrections/ep", "corrections"),
    ("LLM calls/ep", "llm_calls"),
    ("wall s/ep", "wall_time_s"),
]


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1 else f"{value:.1f}"
    return str(value)


def write_summary(summary: BenchSummary, out: Path) -> None:
    """Write `summary.md` and `summary.csv` into `out`."""
    rows = [[_cell(getattr(m, attr)) for _, attr in _COLUMNS] for m in summary.methods]
    header = [title for title, _ in _COLUMNS]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
        "EXEC / SR / GCR: mean ± half-width of the 95% confidence interval over tasks and seeds.",
    ]
    if any(m.tokens_estimated for m in summary.methods):
        lines.append("Some token counts are tiktoken estimates (the model reported no usage).")
    if summary.ratios:
        lines += [
            "",
            f"{REFERENCE_METHOD} against each baseline (paired episodes):",
            "",
            "| baseline | paired episodes | token reduction | correction reduction |",
            "|---|---|---|---|",
        ]
        for ratio in summary.ratios:
            tokens = "n/a" if ratio.token_reduction is None else f"{ratio.token_reduction:.1%}"
            corrections = (
                "n/a" if ratio.correction_reduction is None else f"{ratio.correction_reduction:.1%}"
            )
            lines.append(
                f"| {ratio.baseline} | {ratio.paired_episodes} | {tokens} | {corrections} |"
            )
    (out / "summary.md").write_text("\n".join(lines) + "\n", "utf-8")
    with (out / "summary.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*header, "EXEC ci95", "SR ci95", "GCR ci95"])
        for method, row in zip(summary.methods, rows, strict=True):
            writer.writerow(
                [
                    *row[:4],
                    f"{method.exec.mean:.4f}",
                    f"{method.sr.mean:.4f}",
                    f"{method.gcr.mean:.4f}",
                    *row[7:],
                    f"{method.exec.ci95:.4f}",
                    f"{method.sr.ci95:.4f}",
                    f"{method.gcr.ci95:.4f}",
                ]
            )
