"""Benchmark plots (matplotlib, imported lazily): tokens vs SR per method, SR per category."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from planner.summary import BenchSummary, EpisodeRecord


def write_plots(records: Sequence[EpisodeRecord], summary: BenchSummary, out: Path) -> list[Path]:
    """Write `tokens_vs_sr.png` and `sr_by_category.png`; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    fig, ax = plt.subplots(figsize=(6, 4))
    for method in summary.methods:
        tokens = method.prompt_tokens + method.completion_tokens
        ax.errorbar(tokens, method.sr.mean, yerr=method.sr.ci95, fmt="o", capsize=3)
        label = method.method if method.plans == "live" else f"{method.method} ({method.plans})"
        ax.annotate(label, (tokens, method.sr.mean), textcoords="offset points", xytext=(5, 5))
    ax.set_xscale("symlog")
    ax.set_xlabel("tokens per episode")
    ax.set_ylabel("success rate (SR)")
    ax.set_title("Tokens vs success per method")
    fig.tight_layout()
    paths.append(out / "tokens_vs_sr.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)

    by_method: dict[str, dict[str, list[float]]] = {}
    for record in records:
        if record.result is not None:
            category = record.result.task.category or "?"
            by_method.setdefault(record.method, {}).setdefault(category, []).append(
                float(record.result.success)
            )
    categories = sorted({c for cats in by_method.values() for c in cats})
    fig, ax = plt.subplots(figsize=(max(6, len(categories) * 0.5), 4))
    width = 0.8 / max(1, len(by_method))
    for i, (name, cats) in enumerate(sorted(by_method.items())):
        values = [sum(cats.get(c, [0])) / max(1, len(cats.get(c, []))) for c in categories]
        ax.bar([x + i * width for x in range(len(categories))], values, width, label=name)
    ax.set_xticks([x + 0.4 - width / 2 for x in range(len(categories))])
    ax.set_xticklabels(categories, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("success rate (SR)")
    ax.set_title("Success per task category")
    if by_method:
        ax.legend(fontsize=7)
    fig.tight_layout()
    paths.append(out / "sr_by_category.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)
    return paths
