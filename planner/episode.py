"""Pieces every method shares: executing steps with a log, and turning an episode into a result."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from environments import Environment, StepOutcome, Task
from planner.deciding import ExecutedStep, StopReason
from planner.llm_client import LLMClient
from planner.result import EpisodeResult, TokenReport
from skills import Step


@dataclass
class EpisodeLog:
    """What an episode did so far; methods fill it, `finish` turns it into an `EpisodeResult`."""

    steps: list[ExecutedStep] = field(default_factory=list)
    corrections: int = 0
    backtracks: int = 0
    reached_end: bool = False
    stop_reason: StopReason = "end"
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    def execute(self, env: Environment, step: Step, node: int = -1) -> StepOutcome:
        """Execute one step and log its outcome."""
        outcome = env.step(step)
        self.steps.append(
            ExecutedStep(
                step=outcome.step, success=outcome.success, message=outcome.message, node=node
            )
        )
        return outcome

    def execute_until_failure(self, env: Environment, plan: Sequence[Step]) -> StepOutcome | None:
        """Execute `plan` in order; returns the failed outcome, or None if every step succeeded."""
        for step in plan:
            outcome = self.execute(env, step)
            if not outcome.success:
                return outcome
        return None


def finish(
    env: Environment,
    task: Task,
    method: str,
    client: LLMClient,
    log: EpisodeLog,
    *,
    llm_name: str = "",
    seed: int = 0,
    tree: dict[str, Any] | None = None,
) -> EpisodeResult:
    """Score the environment and assemble the `EpisodeResult` (EXEC needs a reached end)."""
    report = env.score()
    if not log.reached_end:
        report = report.model_copy(update={"executable": False})
    return EpisodeResult(
        task=task,
        method=method,
        llm=llm_name or type(client.llm).__name__,
        seed=seed,
        steps=log.steps,
        corrections=log.corrections,
        backtracks=log.backtracks,
        llm_calls=len(client.ledger.calls),
        report=report,
        tokens=TokenReport.of(client.ledger),
        wall_time_s=time.perf_counter() - log.started,
        stop_reason=log.stop_reason,
        error=log.error,
        details=log.details,
        tree=tree,
    )


def as_task(env: Environment, task: Task | str) -> Task:
    """A `Task` for an id (via the environment's lookup) or the task itself."""
    if isinstance(task, Task):
        return task
    lookup = getattr(env, "task", None)
    if callable(lookup):
        found = lookup(task)
        assert isinstance(found, Task)
        return found
    return next(t for t in env.tasks() if t.id == task)
