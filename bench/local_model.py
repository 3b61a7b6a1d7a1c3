"""Benchmark of the embedded local models, all figures measured side by side in one run.

    python bench/local_model.py [--tasks 10] [--samples 5] [--models local,local:smollm2] [--json]

1. Speed: prompt-processing and generation tokens/s (free and grammar-constrained).
2. Prefix reuse: the same sequence of plan-sampling and decision calls with the KV-cache prefix
   reused and with it reset before every call; the ratio of wall times.
3. Choice: `score` vs `vote` at the first branch of each task's action tree: cost per decision
   (seconds, tokens) and how often both pick the same option.
4. Episodes: a Tree-Planner episode per task and model: SR / GCR / EXEC, wall time, tokens.

Tasks are chosen deterministically: the first task of each category, skipping the few-shot
example tasks. Thread count from TREEPLANNER_THREADS (default: every core).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

from environments.virtualhome import VirtualHomeEnv
from planner.choice import ScoreChooser, VoteChooser
from planner.deciding import decision_prompt
from planner.llm_client import LLMClient, SamplingParams
from planner.llm_factory import make_llm
from planner.local_llm import LocalChatModel
from planner.plan_sampling import PlanSamplingConfig, plan_prompt, sample_plans
from planner.tree import ROOT, build_action_tree, open_children
from planner.tree_planner import TreePlanner
from skills import plan_grammar

EXAMPLE_TASKS = {"11_1", "102_1", "1057_1", "1004_2"}


def pick_tasks(env: VirtualHomeEnv, count: int) -> list[str]:
    """The first task of each category (example tasks skipped), in category order."""
    chosen: dict[str, str] = {}
    for task in env.tasks():
        if task.id not in EXAMPLE_TASKS and task.category not in chosen:
            chosen[task.category] = task.id
    return list(chosen.values())[:count]


def speed(model: LocalChatModel, env: VirtualHomeEnv, task_id: str) -> dict[str, float]:
    """Prompt and generation tokens/s on the plan prompt of a task."""
    env.reset(task_id)
    prompt = plan_prompt(env, env.task(task_id))
    llama = model.llama()
    tokens = model.tokenize(prompt)
    llama.reset()
    start = time.perf_counter()
    llama.eval(tokens)
    prompt_rate = len(tokens) / (time.perf_counter() - start)
    rates = {}
    grammar = plan_grammar(env.vocabulary, env.objects(), 20)
    for label, extra in (("free", {}), ("grammar", {"grammar": model._grammar(grammar)})):
        start = time.perf_counter()
        out = llama.create_completion(tokens, max_tokens=64, temperature=0.8, seed=1, **extra)
        rates[label] = out["usage"]["completion_tokens"] / (time.perf_counter() - start)
    return {
        "prompt_tokens_per_s": prompt_rate,
        "generation_tokens_per_s": rates["free"],
        "constrained_generation_tokens_per_s": rates["grammar"],
    }


def call_sequence(model: LocalChatModel, env: VirtualHomeEnv, tasks: list[str]) -> float:
    """Wall time of a fixed sequence: 3 plan samples then 3 decision prompts, per task."""
    start = time.perf_counter()
    for task_id in tasks:
        env.reset(task_id)
        task = env.task(task_id)
        client = LLMClient(model)
        sample_plans(client, env, task, PlanSamplingConfig(n=3, max_steps=8, max_tokens=96))
        gold = env.gold_plan(task_id)
        for i in range(3):
            prompt = decision_prompt(env, task, gold[i : i + 3], None)
            client.sample(prompt, 1, SamplingParams(max_tokens=2, seed=i), phase="deciding")
    return time.perf_counter() - start


def choice_comparison(
    model: LocalChatModel, env: VirtualHomeEnv, tasks: list[str], samples: int, votes: int
) -> dict[str, Any]:
    """Score vs vote at the first branch of each task's tree (from the model's own plans)."""
    agree, cases = 0, 0
    cost: dict[str, list[float]] = {"score": [], "vote": []}
    tokens: dict[str, list[int]] = {"score": [], "vote": []}
    for task_id in tasks:
        env.reset(task_id)
        task = env.task(task_id)
        client = LLMClient(model)
        plans = sample_plans(client, env, task, PlanSamplingConfig(n=samples)).plans
        tree = build_action_tree(plans)
        node = ROOT
        while len(open_children(tree, node)) == 1:
            node = open_children(tree, node)[0]
        options = open_children(tree, node)
        if len(options) < 2:
            continue
        steps = [tree.nodes[c]["step"] for c in options]
        labels = ["[END] (the task is complete)" if s.is_end else s.render() for s in steps]
        picks = {}
        choosers = (("score", ScoreChooser(client)), ("vote", VoteChooser(client, votes)))
        for name, chooser in choosers:
            prompt = decision_prompt(env, task, steps, None, chooser.template)
            before = client.ledger.total_tokens
            start = time.perf_counter()
            picks[name] = chooser.choose(prompt, labels, phase="deciding", node=node, seed=0).index
            cost[name].append(time.perf_counter() - start)
            tokens[name].append(client.ledger.total_tokens - before)
        cases += 1
        agree += int(picks["score"] == picks["vote"])
    return {
        "decisions": cases,
        "agreement": agree / cases if cases else None,
        **{f"{k}_s_per_decision": statistics.median(v) for k, v in cost.items() if v},
        **{f"{k}_tokens_per_decision": statistics.median(v) for k, v in tokens.items() if v},
    }


def episodes(llm: Any, env: VirtualHomeEnv, tasks: list[str], samples: int) -> dict[str, Any]:
    """One Tree-Planner episode per task; success rates, wall time and tokens."""
    results = [
        TreePlanner(llm, n_samples=samples, max_corrections=10, seed=0).run(env, t) for t in tasks
    ]
    n = len(results)
    return {
        "episodes": n,
        "sr": sum(r.success for r in results) / n,
        "gcr": sum(r.gcr for r in results) / n,
        "exec": sum(r.executable for r in results) / n,
        "wall_s_per_episode": statistics.mean(r.wall_time_s for r in results),
        "tokens_per_episode": statistics.mean(r.tokens.total_tokens for r in results),
        "cached_prompt_tokens_per_episode": statistics.mean(
            r.tokens.per_phase.get("plan_sampling").cached_prompt_tokens  # type: ignore[union-attr]
            if "plan_sampling" in r.tokens.per_phase
            else 0
            for r in results
        ),
        "corrections_per_episode": statistics.mean(r.corrections for r in results),
        "per_task": [r.summary() for r in results],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--votes", type=int, default=5)
    parser.add_argument("--models", default="local,local:smollm2")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    env = VirtualHomeEnv()
    tasks = pick_tasks(env, args.tasks)
    report: dict[str, Any] = {"tasks": tasks, "models": {}}
    for spec in args.models.split(","):
        llm = make_llm(spec)
        assert isinstance(llm, LocalChatModel)
        figures: dict[str, Any] = {"speed": speed(llm, env, tasks[0])}
        reuse = call_sequence(llm, env, tasks[:3])
        llm.reuse_prefix = False
        no_reuse = call_sequence(llm, env, tasks[:3])
        llm.reuse_prefix = True
        figures["prefix_reuse"] = {
            "with_reuse_s": reuse,
            "without_reuse_s": no_reuse,
            "speedup": no_reuse / reuse,
        }
        figures["choice"] = choice_comparison(llm, env, tasks, args.samples, args.votes)
        figures["episodes"] = episodes(llm, env, tasks, args.samples)
        report["models"][spec] = figures
        _print(spec, figures)
    if args.json:
        print(json.dumps(report))


def _print(spec: str, figures: dict[str, Any]) -> None:
    s, r, c, e = figures["speed"], figures["prefix_reuse"], figures["choice"], figures["episodes"]
    print(f"== {spec}")
    print(
        f"  prompt {s['prompt_tokens_per_s']:.0f} tok/s,"
        f" generation {s['generation_tokens_per_s']:.1f} tok/s free,"
        f" {s['constrained_generation_tokens_per_s']:.1f} tok/s under the plan grammar"
    )
    print(
        f"  prefix reuse: {r['with_reuse_s']:.1f} s vs {r['without_reuse_s']:.1f} s without"
        f" -> {r['speedup']:.2f}x"
    )
    print(
        f"  choice over {c['decisions']} branches: score {c.get('score_s_per_decision', 0):.2f} s"
        f" / {c.get('score_tokens_per_decision', 0):.0f} tok, vote"
        f" {c.get('vote_s_per_decision', 0):.2f} s"
        f" / {c.get('vote_tokens_per_decision', 0):.0f} tok,"
        f" agreement {c['agreement']}"
    )
    print(
        f"  episodes {e['episodes']}: SR {e['sr']:.2f} GCR {e['gcr']:.2f} EXEC {e['exec']:.2f},"
        f" {e['wall_s_per_episode']:.1f} s and {e['tokens_per_episode']:.0f} tokens per episode,"
        f" {e['corrections_per_episode']:.1f} corrections"
    )


if __name__ == "__main__":
    main()
