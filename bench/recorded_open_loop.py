"""Figure (a): the 15 recorded LLM plans of virtualhome-eval, executed open loop, our scorer.

Every model's recorded plan for every task (`environments.virtualhome.recorded`) is replayed with
`planner.replay.replay_plan`: reset, execute until the first failed step, score. A plan whose
output does not parse is not executed and counts as EXEC 0, SR 0, GCR 0. Columns:

- parse      outputs that are not a plan (reasons in the JSON line)
- reject     parsed plans the benchmark itself would reject before execution (an unknown action
             or an object outside the task's relevant objects); we execute them anyway
- EXEC/SR/GCR over all tasks (see docs/virtualhome.md, "Scoring")
- steps      mean plan length, over parsed plans
- done       mean steps executed before the first failure (or the end), over parsed plans
- tokens     mean length of the raw output, estimated with tiktoken cl100k_base

One `VirtualHomeEnv` is reused and models are looped inside tasks, so each scene loads once.
The gold programs are replayed too, as a reference row.

    python bench/recorded_open_loop.py [--tasks all|dev|test|dev:N] [--models a,b] [--json]

With --json the last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from dataclasses import dataclass, field

from environments.virtualhome import VirtualHomeEnv
from environments.virtualhome.recorded import recorded_models, recorded_plan
from planner.replay import ReplayResult, replay_plan
from planner.splits import select_tasks


@dataclass
class Tally:
    """Running totals of one model (or of the gold programs)."""

    episodes: int = 0
    parse_failures: Counter[str] = field(default_factory=Counter)
    benchmark_rejects: int = 0
    executable: int = 0
    success: int = 0
    gcr: float = 0.0
    plan_steps: int = 0
    done_steps: int = 0
    tokens: int = 0
    solved: set[str] = field(default_factory=set)

    @property
    def parsed(self) -> int:
        return self.episodes - sum(self.parse_failures.values())

    def summary(self) -> dict[str, object]:
        n, parsed = max(self.episodes, 1), max(self.parsed, 1)
        return {
            "episodes": self.episodes,
            "parse_failures": sum(self.parse_failures.values()),
            "parse_failure_reasons": dict(self.parse_failures),
            "benchmark_rejects": self.benchmark_rejects,
            "exec": round(self.executable / n, 4),
            "sr": round(self.success / n, 4),
            "gcr": round(self.gcr / n, 4),
            "mean_plan_steps": round(self.plan_steps / parsed, 2),
            "mean_executed_steps": round(self.done_steps / parsed, 2),
            "mean_tokens_estimated": round(self.tokens / n, 1),
        }


def run(task_ids: list[str], models: list[str]) -> tuple[dict[str, Tally], Tally]:
    env = VirtualHomeEnv(scene_cache_size=1)
    tallies = {model: Tally() for model in models}
    gold = Tally()
    for task_id in task_ids:
        for model in models:
            plan = recorded_plan(model, task_id)
            tally = tallies[model]
            tally.episodes += 1
            tally.tokens += plan.tokens
            if not plan.parsed:
                assert plan.parse_error_reason is not None
                tally.parse_failures[plan.parse_error_reason] += 1
                continue
            tally.benchmark_rejects += plan.benchmark_hallucination
            _add(tally, task_id, len(plan.steps), replay_plan(env, task_id, plan.steps))
        steps = env.gold_plan(task_id)
        gold.episodes += 1
        _add(gold, task_id, len(steps), replay_plan(env, task_id, steps))
    return tallies, gold


def _add(tally: Tally, task_id: str, plan_steps: int, result: ReplayResult) -> None:
    report = result.report
    tally.executable += report.executable
    tally.success += report.success
    tally.gcr += report.gcr
    tally.plan_steps += plan_steps
    tally.done_steps += sum(s.success for s in result.steps)
    if report.success:
        tally.solved.add(task_id)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tasks", default="all", help="all | dev | test | dev:N | ID,ID,... (see docs/bench.md)"
    )
    parser.add_argument("--models", default=None, help="comma-separated model names")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    task_ids = select_tasks(args.tasks, VirtualHomeEnv().tasks(), "virtualhome")
    models = recorded_models() if args.models is None else args.models.split(",")
    tallies, gold = run(task_ids, models)
    wall_s = time.perf_counter() - start

    header = (
        f"{'model':<30} {'parse':>5} {'reject':>6} {'EXEC':>6} {'SR':>6} {'GCR':>6} "
        f"{'steps':>6} {'done':>5} {'tokens':>6}"
    )
    print(header)
    print("-" * len(header))
    rows = sorted(tallies.items(), key=lambda kv: (-kv[1].success, -kv[1].gcr, kv[0]))
    for name, tally in [*rows, ("(gold programs)", gold)]:
        s = tally.summary()
        print(
            f"{name:<30} {s['parse_failures']:>5} {s['benchmark_rejects']:>6} "
            f"{s['exec']:>6.3f} {s['sr']:>6.3f} {s['gcr']:>6.3f} "
            f"{s['mean_plan_steps']:>6.2f} {s['mean_executed_steps']:>5.2f} "
            f"{s['mean_tokens_estimated'] if name != '(gold programs)' else '':>6}"
        )

    solved_by = Counter(t for tally in tallies.values() for t in tally.solved)
    unsolved = [t for t in task_ids if solved_by[t] == 0]
    oracle = sum(1 for t in task_ids if solved_by[t]) / max(len(task_ids), 1)
    print(
        f"\n{len(task_ids)} tasks x {len(models)} models in {wall_s:.1f} s. "
        f"Solved by no model: {len(unsolved)}; by every model: "
        f"{sum(1 for t in task_ids if solved_by[t] == len(models))}; "
        f"best-of-{len(models)} SR {oracle:.3f}."
    )
    if args.json:
        result = {
            "tasks": len(task_ids),
            "wall_s": round(wall_s, 2),
            "models": {name: tally.summary() for name, tally in tallies.items()},
            "gold": gold.summary(),
            "oracle_sr": round(oracle, 4),
            "unsolved_tasks": unsolved,
            "solved_by_count": {t: solved_by[t] for t in task_ids},
        }
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
