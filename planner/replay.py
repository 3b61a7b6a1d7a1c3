"""Open-loop replay of a fixed plan (e.g. a task's gold program) through the environment."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from environments import Environment, GoalReport, StepOutcome, Task
from skills import Step


class ReplayResult(BaseModel):
    """What executing one plan open loop achieved."""

    task_id: str
    steps: list[StepOutcome]
    report: GoalReport

    @property
    def failure(self) -> StepOutcome | None:
        """The step that stopped the replay, if any."""
        return next((s for s in self.steps if not s.success), None)


class ReplaySummary(BaseModel):
    """EXEC / SR / GCR over many replays."""

    episodes: int
    executable: float
    sr: float
    gcr: float

    @classmethod
    def of(cls, results: Sequence[ReplayResult]) -> ReplaySummary:
        n = len(results)
        if n == 0:
            return cls(episodes=0, executable=0.0, sr=0.0, gcr=0.0)
        return cls(
            episodes=n,
            executable=sum(r.report.executable for r in results) / n,
            sr=sum(r.report.success for r in results) / n,
            gcr=sum(r.report.gcr for r in results) / n,
        )


def replay_plan(env: Environment, task: Task | str, plan: Sequence[Step]) -> ReplayResult:
    """Reset to `task`, execute `plan` until its first failed step, and score the result."""
    env.reset(task)
    outcomes = []
    for step in plan:
        outcome = env.step(step)
        outcomes.append(outcome)
        if not outcome.success:
            break
    task_id = task.id if isinstance(task, Task) else task
    return ReplayResult(task_id=task_id, steps=outcomes, report=env.score())
