"""How much time does a Tree-Planner episode spend in the planner itself, model excluded?

Runs `TreePlanner(model, n_samples=50, votes=20, max_corrections=10, seed=S).run(env, task)` on
VirtualHome tasks spread over the task categories, against `InstantChatModel`: a zero-latency
langchain-core chat model defined here. It supports `n`, reports usage in
`llm_output["token_usage"]` and answers

- plan-sampling prompts (they end in `Plan:`) with 50 plan texts derived from the task's gold
  program by a seeded `random.Random`: gold copies, truncated copies, copies with a wrong step
  inserted, two steps swapped, a step dropped, objects written without ids, and a few unusable
  samples, so the action tree branches and the walk meets failures and backtracks;
- decision prompts (they contain `Which step should come next?`) with seeded votes: each
  decision has a favourite letter (`A`, the most supported option, 70% of the time, else a random
  valid one) that most of the 20 votes name.

Planner time = episode wall time - time spent inside the model's `_generate`. Each task is run
`--repeat` times (the episodes are deterministic) and its fastest run is kept, which damps noise
from other processes. A second, instrumented pass splits the planner time by wrapping functions
with timers (exclusive time: a nested probe's time is not counted again in its caller):

- plan parsing + grounding  `sample_plans` minus the prompt, the LLM call and env calls in it
- prompt rendering          `plan_prompt` and `decision_prompt` (minus `env.observe`)
- tree building             `build_action_tree`
- observation rendering     `env.observe`
- simulator                 `env.step`, `env.restore`, `env.snapshot`, `env.reset`
- scoring                   `env.score`
- LLM client + langchain    `LLMClient.sample` minus the model: `generate()`, callbacks, ledger
- vote counting             `VoteChooser.choose` minus its LLM calls
- deciding loop             `grounded_decide` minus all of the above
- other                     the rest of `TreePlanner.run` (setup, `tree_to_json`, the result)

Task scenes are loaded once before timing (the cold load, from disk, is printed for reference
but not counted: bench/simulator.py measures it), so `env.reset` costs its warm price.
Target: median planner time < 50 ms per episode.

    python bench/overhead.py [--tasks N] [--seed S] [--repeat R] [--profile] [--json]

With --json the last line printed is one JSON object with every figure (milliseconds);
--profile also prints the top functions of a cProfile run of one pass. The exit status is 0
even when the target is missed; read `passed`.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import gc
import json
import math
import os
import pstats
import random
import re
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field, PrivateAttr

import planner.deciding
import planner.plan_sampling
import planner.tree_planner
from environments import Task
from environments.virtualhome import VirtualHomeEnv
from planner.choice import VoteChooser
from planner.llm_client import LLMClient
from planner.result import EpisodeResult
from planner.tree_planner import TreePlanner
from skills import ObjectRef, Step, render_plan

TARGET_MS = 50.0
N_SAMPLES, VOTES, MAX_CORRECTIONS = 50, 20, 10
PLAN_MARK = "Plan:"
DECISION_MARK = "Which step should come next?"
_APPROACH = {"Walk", "Run", "Find", "TurnTo", "LookAt", "PointAt"}
_OPTION = re.compile(r"^([A-Z])\. ", re.MULTILINE)


# -- the zero-latency model ------------------------------------------------------------------
class InstantChatModel(BaseChatModel):
    """Answers at once: scripted plan samples and seeded votes; clocks its own time."""

    plan_texts: list[str] = Field(default_factory=list)
    seconds: float = 0.0
    _rng: random.Random = PrivateAttr(default_factory=random.Random)

    def script(self, plan_texts: list[str], seed: int) -> None:
        """The plan samples of the next episode, and the seed of its votes."""
        self.plan_texts = plan_texts
        self._rng = random.Random(seed)

    @property
    def _llm_type(self) -> str:
        return "instant-fake"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        started = time.perf_counter()
        try:
            prompt = "\n".join(str(m.content) for m in messages)
            n = int(kwargs.get("n") or 1)
            if DECISION_MARK in prompt:
                texts = self._votes(prompt, n)
            elif prompt.rstrip().endswith(PLAN_MARK):
                texts = [self.plan_texts[i % len(self.plan_texts)] for i in range(n)]
            else:
                raise ValueError(f"unexpected prompt: ...{prompt[-80:]!r}")
            completion = sum(len(t) // 4 + 1 for t in texts)
            usage = {
                "prompt_tokens": len(prompt) // 4,
                "completion_tokens": completion,
                "total_tokens": len(prompt) // 4 + completion,
            }
            return ChatResult(
                generations=[ChatGeneration(message=AIMessage(content=t)) for t in texts],
                llm_output={"token_usage": usage},
            )
        finally:
            self.seconds += time.perf_counter() - started

    def _votes(self, prompt: str, n: int) -> list[str]:
        options = _OPTION.findall(prompt[prompt.index(DECISION_MARK) :])
        favourite = "A" if self._rng.random() < 0.7 else self._rng.choice(options)
        return [
            favourite if self._rng.random() < 0.8 else self._rng.choice(options) for _ in range(n)
        ]

    def _combine_llm_outputs(self, llm_outputs: list[dict[str, Any] | None], /) -> dict[str, Any]:
        """Keep `token_usage` (the default drops it, and the client would count with tiktoken)."""
        combined: dict[str, int] = defaultdict(int)
        for output in llm_outputs:
            for key, value in ((output or {}).get("token_usage") or {}).items():
                combined[key] += value
        return {"token_usage": dict(combined)}


def plan_samples(
    gold: list[Step], objects: list[ObjectRef], n: int, rng: random.Random
) -> list[str]:
    """`n` plan texts an LLM might write for a task whose gold program is `gold`.

    A quarter are gold copies; the rest carry one or two edits: truncated, a wrong step inserted
    (an action of the plan that needs the agent close, on a random scene object: it mostly
    fails), two neighbouring steps swapped, a step dropped, objects written without ids (the
    grounder resolves them), or an unknown action (the sample is dropped).
    """
    hands_on = [s.action for s in gold if len(s.args) == 1 and s.action not in _APPROACH]
    edits = ["truncated", "inserted", "swapped", "dropped", "no ids", "unusable"]
    texts = []
    for _ in range(n):
        plan = list(gold)
        count = 0 if rng.random() < 0.25 else rng.choice([1, 1, 2])
        for edit in rng.choices(edits, weights=[20, 25, 25, 10, 15, 5], k=count):
            at = rng.randrange(len(plan))
            if edit == "truncated" and len(plan) > 1:
                plan = plan[: max(1, at)]
            elif edit == "inserted":
                wrong = Step(rng.choice(hands_on or ["Grab"]), (rng.choice(objects),))
                plan.insert(at, wrong)
            elif edit == "swapped" and len(plan) > 1:
                at = min(at, len(plan) - 2)
                plan[at], plan[at + 1] = plan[at + 1], plan[at]
            elif edit == "dropped" and len(plan) > 1:
                del plan[at]
            elif edit == "no ids":
                plan[at] = Step(plan[at].action, tuple(ObjectRef(a.name) for a in plan[at].args))
            elif edit == "unusable":
                plan.insert(at, Step("Teleport", (rng.choice(objects),)))
        texts.append(render_plan(plan))
    return texts


# -- exclusive-time probes -------------------------------------------------------------------
class Clock:
    """Charges elapsed time to the innermost open section (exclusive time)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._open = ["other"]
        self._mark = time.perf_counter()

    def reset(self) -> None:
        self.seconds.clear()
        self._open = ["other"]
        self._mark = time.perf_counter()

    def _charge(self) -> None:
        now = time.perf_counter()
        self.seconds[self._open[-1]] += now - self._mark
        self._mark = now

    def enter(self, section: str) -> None:
        self._charge()
        self._open.append(section)

    def leave(self) -> None:
        self._charge()
        self._open.pop()

    def wrap(self, section: str, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            self.enter(section)
            try:
                return function(*args, **kwargs)
            finally:
                self.leave()

        return timed


MODEL = "model (excluded)"
SECTIONS = [
    "plan parsing + grounding",
    "prompt rendering",
    "tree building",
    "observation rendering",
    "simulator",
    "scoring",
    "LLM client + langchain",
    "vote counting",
    "deciding loop",
    "other",
]
PROBES: list[tuple[Any, str, str]] = [
    (planner.tree_planner, "sample_plans", "plan parsing + grounding"),
    (planner.plan_sampling, "plan_prompt", "prompt rendering"),
    (planner.deciding, "decision_prompt", "prompt rendering"),
    (planner.tree_planner, "build_action_tree", "tree building"),
    (planner.tree_planner, "grounded_decide", "deciding loop"),
    (VoteChooser, "choose", "vote counting"),
    (LLMClient, "sample", "LLM client + langchain"),
    (InstantChatModel, "_generate", MODEL),
]
ENV_SECTIONS = {
    "reset": "simulator",
    "step": "simulator",
    "snapshot": "simulator",
    "restore": "simulator",
    "observe": "observation rendering",
    "score": "scoring",
}


class TimedEnv:
    """Forwards every attribute to `env`; the methods in ENV_SECTIONS are clocked."""

    def __init__(self, env: VirtualHomeEnv, clock: Clock) -> None:
        self._env = env
        for method, section in ENV_SECTIONS.items():
            setattr(self, method, clock.wrap(section, getattr(env, method)))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._env, name)


@contextmanager
def instrumented(clock: Clock) -> Iterator[None]:
    """Swap the PROBES functions for clocked wrappers for the duration of the block."""
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in PROBES]
    try:
        for owner, name, section in PROBES:
            setattr(owner, name, clock.wrap(section, getattr(owner, name)))
        yield
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)


# -- episodes ---------------------------------------------------------------------------------
def spread_tasks(env: VirtualHomeEnv, count: int) -> list[Task]:
    """`count` tasks taken round-robin over the categories, largest category first."""
    by_category: dict[str, list[Task]] = defaultdict(list)
    for task in env.tasks():
        by_category[task.category].append(task)
    queues = sorted(by_category.values(), key=lambda q: (-len(q), q[0].category))
    picked: list[Task] = []
    for rank in range(max(map(len, queues))):
        picked += [queue[rank] for queue in queues if rank < len(queue)]
    return picked[:count]


def run_episode(
    model: InstantChatModel,
    env: Any,
    task: Task,
    texts: list[str],
    seed: int,
    clock: Clock | None = None,
) -> tuple[float, float, EpisodeResult]:
    """(wall seconds, model seconds, result) of one episode; `clock` times just `run`."""
    model.script(texts, seed)
    model.seconds = 0.0
    planner = TreePlanner(
        model, n_samples=N_SAMPLES, votes=VOTES, max_corrections=MAX_CORRECTIONS, seed=seed
    )
    if clock is not None:
        clock.reset()
    started = time.perf_counter()
    result = planner.run(env, task)
    wall = time.perf_counter() - started
    if clock is not None:
        clock.leave()  # charge the tail of `run` to "other"
    return wall, model.seconds, result


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20, help="number of tasks (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="planner and fake-model seed")
    parser.add_argument("--repeat", type=int, default=3, help="runs per task; fastest kept")
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    args = parser.parse_args(argv)
    load = os.getloadavg()

    env = VirtualHomeEnv(scene_cache_size=args.tasks + 1)
    tasks = spread_tasks(env, args.tasks)
    scripts: dict[str, list[str]] = {}
    cold_loads = []
    for task in tasks:  # load every scene once (not timed) and script its plan samples
        started = time.perf_counter()
        env.reset(task)
        cold_loads.append((time.perf_counter() - started) * 1000)
        rng = random.Random(f"{args.seed}:{task.id}")
        scripts[task.id] = plan_samples(env.gold_plan(task), env.objects(), N_SAMPLES, rng)
    gc.collect()
    model = InstantChatModel()
    run_episode(model, env, tasks[0], scripts[tasks[0].id], args.seed)  # warm up

    # Pass 1, plain: planner time per task (fastest of --repeat runs).
    planner_ms, wall_ms, model_ms, results = [], [], [], []
    for task in tasks:
        runs = [
            run_episode(model, env, task, scripts[task.id], args.seed) for _ in range(args.repeat)
        ]
        wall, inside, result = min(runs, key=lambda r: r[0] - r[1])
        planner_ms.append((wall - inside) * 1000)
        wall_ms.append(wall * 1000)
        model_ms.append(inside * 1000)
        results.append(result)

    # Pass 2, instrumented: where the planner time goes (fastest run per task again).
    clock = Clock()
    timed_env = TimedEnv(env, clock)
    sections: dict[str, list[float]] = {name: [] for name in [*SECTIONS, MODEL]}
    with instrumented(clock):
        for task in tasks:
            splits = []
            for _ in range(args.repeat):
                run_episode(model, timed_env, task, scripts[task.id], args.seed, clock)
                splits.append(dict(clock.seconds))
            best = min(splits, key=lambda split: sum(split.get(name, 0.0) for name in SECTIONS))
            for name in sections:
                sections[name].append(best.get(name, 0.0) * 1000)

    median, p90 = statistics.median(planner_ms), percentile(planner_ms, 90)
    passed = median < TARGET_MS
    instrumented_total = [sum(sections[name][i] for name in SECTIONS) for i in range(len(tasks))]
    work = {
        "tree_nodes": [r.details["tree"]["nodes"] for r in results],
        "distinct_plans": [r.details["plans_distinct"] for r in results],
        "plans_kept": [r.details["plans_kept"] for r in results],
        "llm_decisions": [r.details["llm_decisions"] for r in results],
        "free_decisions": [r.details["free_decisions"] for r in results],
        "llm_calls": [r.llm_calls for r in results],
        "steps_executed": [len(r.steps) for r in results],
        "corrections": [r.corrections for r in results],
        "backtracks": [r.backtracks for r in results],
    }
    stops: dict[str, int] = defaultdict(int)
    for result in results:
        stops[result.stop_reason] += 1

    print(
        f"Tree-Planner overhead: {len(tasks)} tasks, N={N_SAMPLES} plans, {VOTES} votes, "
        f"seed {args.seed}, fastest of {args.repeat} runs per task, model time excluded"
    )
    print(f"load average before: {load[0]:.2f} on {os.cpu_count()} cores (noise if high)")
    print(
        f"planner time per episode: median {median:.1f} ms, p90 {p90:.1f} ms  "
        f"(target < {TARGET_MS:g} ms median: {'PASS' if passed else 'MISS'})"
    )
    print(
        f"wall median {statistics.median(wall_ms):.1f} ms, inside the fake model median "
        f"{statistics.median(model_ms):.2f} ms; cold scene load (not counted) median "
        f"{statistics.median(cold_loads):.1f} ms"
    )
    total_all = sum(instrumented_total)
    print(f"\n{'where the time goes':<26} {'median ms':>10} {'p90 ms':>8} {'share':>7}")
    breakdown = {}
    for name in SECTIONS:
        values = sections[name]
        share = sum(values) / total_all if total_all else 0.0
        med, high = statistics.median(values), percentile(values, 90)
        print(f"{name:<26} {med:>10.2f} {high:>8.2f} {share:>6.1%}")
        breakdown[name] = {"median": round(med, 3), "p90": round(high, 3), "share": round(share, 4)}
    print(
        f"{'total (instrumented)':<26} {statistics.median(instrumented_total):>10.2f} "
        f"{percentile(instrumented_total, 90):>8.2f} {'100%':>7}"
    )
    print("\nwork per episode, median (max):")
    for name, values in work.items():
        print(f"  {name.replace('_', ' '):<18} {statistics.median(values):>6g} ({max(values)})")
    with_corrections = sum(1 for r in results if r.corrections)
    with_backtracks = sum(1 for r in results if r.backtracks)
    print(
        "stop reasons: "
        + ", ".join(f"{k} {v}" for k, v in sorted(stops.items()))
        + f"; episodes with corrections {with_corrections}, with backtracks {with_backtracks}"
    )

    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for task in tasks:
            run_episode(model, env, task, scripts[task.id], args.seed)
        profiler.disable()
        print(f"\ncProfile of one plain pass over {len(tasks)} episodes (cumulative):")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)

    if args.json:
        figures = {
            "tasks": len(tasks),
            "seed": args.seed,
            "repeat": args.repeat,
            "n_samples": N_SAMPLES,
            "votes": VOTES,
            "target_ms": TARGET_MS,
            "planner_ms": {"median": round(median, 3), "p90": round(p90, 3)},
            "wall_ms": {"median": round(statistics.median(wall_ms), 3)},
            "model_ms": {"median": round(statistics.median(model_ms), 3)},
            "cold_scene_load_ms": {"median": round(statistics.median(cold_loads), 3)},
            "breakdown_ms": breakdown,
            "instrumented_total_ms": {"median": round(statistics.median(instrumented_total), 3)},
            "work_median": {k: statistics.median(v) for k, v in work.items()},
            "work_max": {k: max(v) for k, v in work.items()},
            "stop_reasons": dict(stops),
            "episodes_with_corrections": with_corrections,
            "episodes_with_backtracks": with_backtracks,
            "loadavg_1min": round(load[0], 2),
            "passed": passed,
        }
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
