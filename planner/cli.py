"""The `treeplanner` command line: a thin layer that parses arguments and calls the API."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from skills.errors import TreePlannerError


def _print_json(payload: object) -> None:
    print(json.dumps(payload, sort_keys=False))


def cmd_tasks(args: argparse.Namespace) -> int:
    """List the environment's tasks."""
    from environments import make_env

    env = make_env(args.env)
    tasks = env.tasks()
    if args.json:
        _print_json([t.model_dump() for t in tasks])
        return 0
    for task in tasks:
        print(f"{task.id:>8}  {task.category:<28}  {task.title}")
    print(f"{len(tasks)} tasks")
    return 0


def cmd_gold(args: argparse.Namespace) -> int:
    """Replay annotated gold programs and score them."""
    from environments import HasGoldPlans, make_env
    from planner.replay import ReplaySummary, replay_plan

    env = make_env(args.env)
    if not isinstance(env, HasGoldPlans):
        raise TreePlannerError(f"environment {args.env!r} has no gold plans")
    if args.all:
        task_ids = [t.id for t in env.tasks()]
    elif args.task:
        task_ids = list(args.task)
    else:
        raise TreePlannerError("give --task ID (repeatable) or --all")
    results = []
    for task_id in task_ids:
        result = replay_plan(env, task_id, env.gold_plan(task_id))
        results.append(result)
        if not args.json or len(task_ids) == 1:
            _print_replay(result, verbose=len(task_ids) == 1 and not args.json)
        elif result.failure is not None or not result.report.success:
            print(f"{task_id}: {_status(result)}", file=sys.stderr)
    summary = ReplaySummary.of(results)
    failures = [
        {"task": r.task_id, "step": r.failure.step, "message": r.failure.message}
        for r in results
        if r.failure is not None
    ]
    if args.json:
        _print_json({**summary.model_dump(), "failures": failures})
    else:
        print(
            f"episodes {summary.episodes}  EXEC {summary.executable:.3f}  "
            f"SR {summary.sr:.3f}  GCR {summary.gcr:.3f}"
        )
    return 0


def _status(result: object) -> str:
    from planner.replay import ReplayResult

    assert isinstance(result, ReplayResult)
    report = result.report
    met = f"{report.conditions_met}/{report.conditions_total}"
    text = f"SR {int(report.success)} GCR {report.gcr:.2f} ({met})"
    if result.failure is not None:
        text += f"; failed at {result.failure.step}: {result.failure.message}"
    return text


def _print_replay(result: object, verbose: bool) -> None:
    from planner.replay import ReplayResult

    assert isinstance(result, ReplayResult)
    if verbose:
        for number, outcome in enumerate(result.steps, start=1):
            mark = "ok  " if outcome.success else "FAIL"
            line = f"{number:>3}. {mark} {outcome.step}"
            if not outcome.success:
                line += f"  -- {outcome.message}"
            print(line)
    print(f"{result.task_id}: {_status(result)}")


PRIOR_HELP = "with --choice score: weight of log(plan share) added to each option's score (1)"


def cmd_run(args: argparse.Namespace) -> int:
    """Run one Tree-Planner episode and print the tree, the steps, the metrics and the tokens."""
    from environments import make_env
    from planner.llm_factory import make_llm
    from planner.methods import default_samples
    from planner.tree_planner import TreePlanner

    env = make_env(args.env)
    task = env.task(args.task) if hasattr(env, "task") else args.task
    llm = make_llm(args.llm, base_url=args.base_url)
    planner = TreePlanner(
        llm,
        n_samples=args.samples or default_samples(args.llm),
        choice=args.choice,
        prior_weight=args.prior_weight,
        votes=args.votes,
        max_corrections=args.max_corrections,
        seed=args.seed,
        token_budget=args.token_budget,
        llm_name=args.llm,
    )
    result = planner.run(env, task)
    if args.out:
        result.write(args.out)
    if args.dot and result.tree is not None:
        from pathlib import Path

        from planner.tree import tree_from_json, tree_to_dot

        Path(args.dot).write_text(tree_to_dot(tree_from_json(result.tree)), "utf-8")
    if result.error and result.llm_calls == 0:
        raise TreePlannerError(result.error)
    if not args.json or args.verbose:
        _print_episode(result)
    if args.json:
        _print_json(result.summary())
    if result.error:
        print(f"treeplanner: error: {result.error}", file=sys.stderr)
        return 2
    return 0


def _print_episode(result: object) -> None:
    from planner.result import EpisodeResult

    assert isinstance(result, EpisodeResult)
    details = result.details
    tree = details.get("tree", {})
    print(f"task {result.task.id}: {result.task.title} -- {result.task.description}")
    print(
        f"plans: {details.get('plans_kept', 0)}/{details.get('plans_requested', 0)} parsed, "
        f"{details.get('plans_distinct', 0)} distinct, dropped {details.get('plans_dropped', {})}"
    )
    print(
        f"action tree: {tree.get('nodes', 0)} nodes, {tree.get('distinct_plans', 0)} leaves, "
        f"depth {tree.get('depth', 0)}"
    )
    if result.tree is not None and result.tree.get("edges"):
        from planner.tree import tree_from_json, tree_to_text

        print(tree_to_text(tree_from_json(result.tree)))
    for number, step in enumerate(result.steps, start=1):
        mark = "ok  " if step.success else "FAIL"
        line = f"{number:>3}. {mark} {step.step}"
        if not step.success:
            line += f"  -- {step.message}"
        print(line)
    report = result.report
    print(
        f"stop: {result.stop_reason}  SR {int(report.success)}  EXEC {int(report.executable)}  "
        f"GCR {report.gcr:.2f} ({report.conditions_met}/{report.conditions_total})  "
        f"corrections {result.corrections}  backtracks {result.backtracks}"
    )
    tokens = result.tokens
    label = " (tiktoken estimate)" if tokens.estimated else ""
    phases = ", ".join(f"{p} {t.total_tokens}" for p, t in tokens.per_phase.items())
    print(
        f"tokens{label}: prompt {tokens.prompt_tokens}, completion {tokens.completion_tokens}, "
        f"total {tokens.total_tokens} [{phases}] in {result.llm_calls} LLM calls, "
        f"{result.wall_time_s:.1f} s"
    )


def cmd_bench(args: argparse.Namespace) -> int:
    """Run methods x tasks x seeds, resumable, and write the summary, ratios and plots."""
    from pathlib import Path

    from environments import make_env
    from planner.bench_runner import BenchConfig, run_bench, write_reports
    from planner.methods import METHODS
    from planner.plan_sources import make_plan_source
    from planner.splits import select_tasks

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise TreePlannerError(
            f"unknown method(s) {', '.join(unknown)}; known: {', '.join(METHODS)}"
        )
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError as exc:
        raise TreePlannerError(f"--seeds takes integers like 0,1,2, not {args.seeds!r}") from exc
    env = make_env(args.env)
    make_plan_source(args.plans)  # an unknown source or model fails here, not per episode
    config = BenchConfig(
        methods=methods,
        tasks=select_tasks(args.tasks, env.tasks(), args.env),
        llm=args.llm,
        base_url=args.base_url,
        plans=args.plans,
        seeds=seeds,
        out=Path(args.out),
        workers=args.workers,
        resume=args.resume,
        backend=args.backend,
        samples=args.samples,
        votes=args.votes,
        choice=args.choice,
        prior_weight=args.prior_weight,
        max_corrections=args.max_corrections,
        token_budget=args.token_budget,
        cache=not args.no_cache,
        requests_per_second=args.rps,
        prices=Path(args.prices) if args.prices else None,
        env=args.env,
    )
    summary = write_reports(config) if args.report_only else run_bench(config)
    print((config.out / "summary.md").read_text("utf-8"))
    if args.json:
        _print_json(summary.model_dump())
    return 0


def _add_planner_options(parser: argparse.ArgumentParser) -> None:
    """The model and planner options `run` and `bench` share."""
    parser.add_argument(
        "--llm",
        default="local",
        metavar="SPEC",
        help="local (embedded Gemma 3 270M, the default), local:smollm2, local:/path.gguf, "
        "openai:<model>",
    )
    parser.add_argument("--base-url", help="OpenAI-compatible endpoint ($OPENAI_BASE_URL)")
    parser.add_argument(
        "--samples", type=int, default=None, metavar="N", help="plans sampled (50; 5 local)"
    )
    parser.add_argument("--votes", type=int, default=20, metavar="K", help="votes per choice")
    parser.add_argument(
        "--choice",
        choices=["auto", "vote", "score"],
        default="auto",
        help="how branches are chosen: vote (k samples), score (option likelihood), auto",
    )
    parser.add_argument("--prior-weight", type=float, default=1.0, metavar="W", help=PRIOR_HELP)
    parser.add_argument("--max-corrections", type=int, default=10, metavar="C", help="0 = none")
    parser.add_argument("--token-budget", type=int, default=None, metavar="T")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    parser = argparse.ArgumentParser(
        prog="treeplanner", description="Close-loop task planning with LLMs and action trees."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    tasks = sub.add_parser("tasks", help="list the tasks of an environment")
    tasks.add_argument("--env", default="virtualhome")
    tasks.add_argument("--json", action="store_true", help="print one JSON array")
    tasks.set_defaults(func=cmd_tasks)

    gold = sub.add_parser("gold", help="replay annotated gold programs and score them")
    gold.add_argument("--env", default="virtualhome")
    gold.add_argument("--task", action="append", metavar="ID", help="task id (repeatable)")
    gold.add_argument("--all", action="store_true", help="every task")
    gold.add_argument("--json", action="store_true", help="end with one JSON summary line")
    gold.set_defaults(func=cmd_gold)

    run = sub.add_parser("run", help="run a Tree-Planner episode on a task")
    run.add_argument("--env", default="virtualhome")
    run.add_argument("--task", required=True, metavar="ID")
    _add_planner_options(run)
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--out", metavar="FILE", help="write the full EpisodeResult as JSON")
    run.add_argument("--dot", metavar="FILE", help="write the action tree as Graphviz DOT")
    run.add_argument("--json", action="store_true", help="end with one JSON summary line")
    run.add_argument("--verbose", action="store_true", help="with --json, print the episode too")
    run.set_defaults(func=cmd_run)

    bench = sub.add_parser("bench", help="benchmark methods over tasks and seeds")
    bench.add_argument("--env", default="virtualhome")
    bench.add_argument(
        "--methods",
        default="tree-planner",
        help="comma-separated: tree-planner, tree-planner-nc, zero-shot, iterative, "
        "local-replan, global-replan",
    )
    bench.add_argument("--tasks", default="dev", help="all | dev | test | dev:N | ID,ID,...")
    _add_planner_options(bench)
    bench.add_argument(
        "--plans", default="live", help="live | recorded (all 15 models) | recorded:MODEL"
    )
    bench.add_argument("--seeds", default="0", help="comma-separated seeds (0)")
    bench.add_argument("--out", required=True, metavar="DIR")
    bench.add_argument("--workers", type=int, default=1, help="concurrent episodes (API models)")
    bench.add_argument("--resume", action="store_true", help="skip episodes already in DIR")
    bench.add_argument("--backend", choices=["asyncio", "ray"], default="asyncio")
    bench.add_argument("--no-cache", action="store_true", help="do not use DIR/llm_cache.sqlite")
    bench.add_argument("--rps", type=float, default=None, help="rate limit, requests per second")
    bench.add_argument("--prices", metavar="FILE", help="price table JSON (USD per 1M tokens)")
    bench.add_argument(
        "--report-only", action="store_true", help="only rewrite the summary from DIR"
    )
    bench.add_argument("--json", action="store_true", help="end with the summary as JSON")
    bench.set_defaults(func=cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run a sub-command; errors of ours become one line and exit status 2."""
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except TreePlannerError as exc:
        print(f"treeplanner: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("treeplanner: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
