"""How fast is the VirtualHome simulator behind `VirtualHomeEnv`?

Replays the gold programs of the first N tasks (all 342 by default) and times, per call:

- step       `env.step(step)` over every gold step
- snapshot   `env.snapshot()` before every step
- restore    `env.restore(...)` back to the state before a step, and forward again
- observe    `env.observe()`, the first call in a new state (it computes the agent's view)
- focus      `env.observe(focus=step.args)` in the same state (the view is cached by then)
- task load  `env.reset(task)` of a task that is not cached (a fresh env with a one-scene cache)

and the wall time of replaying every gold program with `planner.replay.replay_plan` in a fresh
environment (task loads, parsing and scoring included). Targets: step and snapshot < 1 ms
median, task load < 200 ms median, gold replay of 342 tasks < 30 s (scaled for fewer tasks).

    python bench/simulator.py [--tasks N] [--json]

With --json the last line printed is one JSON object with every figure (milliseconds, except
`gold_replay_s`). The exit status is 0 even when a target is missed; read `targets_met`.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import TypeVar

from environments.virtualhome import VirtualHomeEnv
from planner.replay import replay_plan

TARGET_MS = {"step": 1.0, "snapshot": 1.0, "task load": 200.0}
TARGET_REPLAY_S_PER_342 = 30.0

T = TypeVar("T")


def timed(call: Callable[[], T]) -> tuple[float, T]:
    """(milliseconds the call took, its result)."""
    start = time.perf_counter()
    result = call()
    return (time.perf_counter() - start) * 1000.0, result


def p95(samples: list[float]) -> float:
    """The 95th percentile (nearest rank)."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def bench_calls(task_ids: list[str]) -> dict[str, list[float]]:
    """Per-call times of step, snapshot, restore and observe over the gold programs."""
    env = VirtualHomeEnv()
    samples: dict[str, list[float]] = {
        name: [] for name in ("step", "snapshot", "restore", "observe", "focus")
    }
    for task_id in task_ids:
        plan = env.gold_plan(task_id)
        env.reset(task_id)
        for step in plan:
            ms, before = timed(env.snapshot)
            samples["snapshot"].append(ms)
            ms, outcome = timed(partial(env.step, step))
            samples["step"].append(ms)
            after = env.snapshot()
            samples["restore"].append(timed(partial(env.restore, before))[0])
            samples["restore"].append(timed(partial(env.restore, after))[0])
            samples["observe"].append(timed(env.observe)[0])
            samples["focus"].append(timed(partial(env.observe, focus=step.args))[0])
            if not outcome.success:
                break
    return samples


def bench_task_loads(task_ids: list[str]) -> list[float]:
    """Time of `reset` when the task's scene must be read and built (never a cache hit)."""
    env = VirtualHomeEnv(scene_cache_size=1)
    return [timed(partial(env.reset, task_id))[0] for task_id in task_ids]


def bench_gold_replay(task_ids: list[str]) -> float:
    """Seconds to replay and score every gold program in a fresh environment."""
    env = VirtualHomeEnv()
    start = time.perf_counter()
    for task_id in task_ids:
        replay_plan(env, task_id, env.gold_plan(task_id))
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=None, help="only the first N tasks")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    args = parser.parse_args(argv)

    task_ids = [task.id for task in VirtualHomeEnv().tasks()][: args.tasks]
    bench_gold_replay(task_ids[:1])  # warm up: import the simulator, read the task index

    samples = bench_calls(task_ids)
    samples["task load"] = bench_task_loads(task_ids)
    replay_s = bench_gold_replay(task_ids)
    replay_target_s = TARGET_REPLAY_S_PER_342 * len(task_ids) / 342

    results: dict[str, object] = {"tasks": len(task_ids)}
    targets_met = replay_s < replay_target_s
    print(f"{'call':<10} {'n':>6} {'median ms':>10} {'p95 ms':>8}  target")
    for name, values in samples.items():
        median = statistics.median(values)
        target = TARGET_MS.get(name)
        verdict = (
            "" if target is None else f"< {target:g} ms " + ("ok" if median < target else "MISSED")
        )
        targets_met = targets_met and (target is None or median < target)
        print(f"{name:<10} {len(values):>6} {median:>10.3f} {p95(values):>8.3f}  {verdict}")
        key = name.replace(" ", "_") + "_ms"
        results[key] = {"n": len(values), "median": round(median, 4), "p95": round(p95(values), 4)}
    verdict = "ok" if replay_s < replay_target_s else "MISSED"
    print(
        f"gold replay of {len(task_ids)} tasks: {replay_s:.2f} s "
        f"(target < {replay_target_s:.1f} s) {verdict}"
    )
    results["gold_replay_s"] = round(replay_s, 3)
    results["targets_met"] = targets_met
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
