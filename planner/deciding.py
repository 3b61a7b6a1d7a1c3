"""Phase 3: grounded deciding, a walk down the action tree in the environment.

At each node a single open child is taken without a call; otherwise the chooser picks among the
open children given the task, the executed steps and an observation of the objects the options
name. A failed step marks its node failed, counts a correction and feeds the error into the next
choice; when a node has no open child left, the walk climbs to the nearest ancestor that has one
and restores the environment snapshot taken there. The walk ends at `[END]`, when the tree is
exhausted, or when a failure would exceed `max_corrections` (0 = no correction).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import networkx as nx
from pydantic import BaseModel, Field

from environments import Environment, Task
from planner.choice import Chooser, option_list
from planner.errors import LLMError
from planner.ledger import Phase
from planner.tree import ROOT, object_refs, open_children, parent
from prompts import render
from skills import Step

StopReason = Literal[
    "end", "exhausted", "correction_cap", "failed", "no_plan", "budget", "error", "max_steps"
]
END_LABEL = "[END] (the task is complete)"


class ExecutedStep(BaseModel):
    """One step the walk executed, with its outcome."""

    step: str
    success: bool
    message: str = ""
    node: int


class DecisionTrace(BaseModel):
    """What the walk did."""

    steps: list[ExecutedStep] = Field(default_factory=list)
    corrections: int = 0
    backtracks: int = 0
    llm_decisions: int = 0
    free_decisions: int = 0
    invalid_replies: int = 0
    fallbacks: int = 0
    reached_end: bool = False
    stop_reason: StopReason = "exhausted"
    error: str | None = None


@dataclass(frozen=True)
class DecisionConfig:
    """Settings of grounded deciding (the paper's: 20 votes at temperature 0.7, 10 corrections)."""

    max_corrections: int = 10
    max_options: int = 26
    max_steps: int = 200
    seed: int = 0


def decision_prompt(
    env: Environment,
    task: Task,
    options: Sequence[Step],
    feedback: str | None,
    template: str = "decision",
) -> str:
    """The prompt of one choice: task, executed steps, focused observation, error, options."""
    history = [s.render() for s in env.executed_steps()]
    labels = [END_LABEL if s.is_end else s.render() for s in options]
    return render(
        env.name,
        template,
        title=task.title,
        description=task.description,
        history="\n".join(f"{i}. {s}" for i, s in enumerate(history, 1)) or "(none yet)",
        observation=env.observe(focus=object_refs(options)),
        feedback=f"Your last step failed: {feedback}. Choose a different step.\n"
        if feedback
        else "",
        options=option_list(labels),
    )


def grounded_decide(
    env: Environment,
    task: Task,
    tree: nx.DiGraph,
    chooser: Chooser,
    config: DecisionConfig | None = None,
) -> DecisionTrace:
    """Walk `tree` in `env` (already reset to `task`), marking node statuses as it goes."""
    config = config or DecisionConfig()
    trace = DecisionTrace()
    snapshots: dict[int, Any] = {ROOT: env.snapshot()}
    node, feedback = ROOT, None
    try:
        while True:
            options = open_children(tree, node)[: config.max_options]
            if not options:
                climbed = _climb(tree, node)
                if climbed is None:
                    trace.stop_reason = "exhausted"
                    break
                node = climbed
                env.restore(snapshots[node])
                trace.backtracks += 1
                continue
            if len(trace.steps) >= config.max_steps:
                trace.stop_reason = "max_steps"
                break
            choice = _choose(env, task, tree, node, options, chooser, feedback, trace, config)
            step: Step = tree.nodes[choice]["step"]
            if step.is_end:
                if feedback is not None:
                    env.restore(snapshots[node])  # end on the last good state, not the failure
                tree.nodes[choice]["status"] = "ok"
                trace.reached_end, trace.stop_reason = True, "end"
                break
            outcome = env.step(step)
            trace.steps.append(
                ExecutedStep(
                    step=outcome.step, success=outcome.success, message=outcome.message, node=choice
                )
            )
            if outcome.success:
                tree.nodes[choice]["status"] = "ok"
                node, feedback = choice, None
                snapshots[node] = env.snapshot()
                continue
            tree.nodes[choice]["status"] = "failed"
            if trace.corrections >= config.max_corrections:
                trace.stop_reason = "correction_cap"
                break
            trace.corrections += 1
            feedback = f"{step.render()} ({outcome.message})"
    except LLMError as exc:
        from planner.errors import BudgetExhaustedError

        trace.stop_reason = "budget" if isinstance(exc, BudgetExhaustedError) else "error"
        trace.error = str(exc)
    return trace


def _climb(tree: nx.DiGraph, node: int) -> int | None:
    """Mark exhausted nodes failed up to the nearest ancestor with an open child."""
    current: int | None = node
    while current is not None and not open_children(tree, current):
        if current != ROOT:
            tree.nodes[current]["status"] = "failed"
        current = parent(tree, current)
    return current if current != node else None


def _choose(
    env: Environment,
    task: Task,
    tree: nx.DiGraph,
    node: int,
    options: list[int],
    chooser: Chooser,
    feedback: str | None,
    trace: DecisionTrace,
    config: DecisionConfig,
) -> int:
    if len(options) == 1:
        trace.free_decisions += 1
        return options[0]
    steps = [tree.nodes[c]["step"] for c in options]
    prompt = decision_prompt(env, task, steps, feedback, chooser.template)
    phase: Phase = "correction" if feedback else "deciding"
    labels = [END_LABEL if s.is_end else s.render() for s in steps]
    choice = chooser.choose(
        prompt,
        labels,
        phase=phase,
        node=node,
        seed=config.seed + 7919 * trace.llm_decisions,
        counts=[tree.nodes[c]["count"] for c in options],
    )
    trace.llm_decisions += 1
    trace.invalid_replies += choice.invalid_replies
    trace.fallbacks += int(choice.fallback)
    return options[choice.index]
