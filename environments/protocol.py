"""The one contract between planners and simulators: reset, step, observe, snapshot, score.

Modelled on gymnasium's `Env` (reset/step) and unified-planning's simulators (immutable states
make snapshots free), but over text steps: a planner never sees a simulator's internals, and goal
annotations are reachable only through `score()`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from skills import ObjectRef, SkillVocabulary, Step


class Task(BaseModel):
    """A task an environment offers; carries no goal annotations."""

    model_config = ConfigDict(frozen=True)

    id: str
    title: str
    description: str = ""
    category: str = ""


class StepOutcome(BaseModel):
    """The result of one step: success, or failure with the simulator's message."""

    model_config = ConfigDict(frozen=True)

    step: str
    success: bool
    message: str = ""


class GoalReport(BaseModel):
    """How far the current trajectory meets the task's goals (read only for scoring)."""

    conditions_met: int
    conditions_total: int
    success: bool = Field(description="SR: every goal condition met")
    gcr: float = Field(description="goal-condition rate: met / total")
    executable: bool = Field(description="the trajectory ended without an unrecovered failure")
    unmet: list[str] = Field(default_factory=list, description="the goal conditions not met")


@runtime_checkable
class Environment(Protocol):
    """What every simulator implements and the planner alone talks to."""

    name: str
    vocabulary: SkillVocabulary

    def tasks(self) -> list[Task]:
        """The tasks this environment offers."""
        ...

    def reset(self, task: Task | str) -> str:
        """Start `task` from its initial state; returns the initial observation."""
        ...

    def step(self, step: Step) -> StepOutcome:
        """Execute one step; an ordinary failure is an outcome, never an exception."""
        ...

    def observe(self, focus: Iterable[ObjectRef | int] | None = None) -> str:
        """Text observation under partial observability, optionally about `focus` objects."""
        ...

    def snapshot(self) -> Any:
        """An opaque, cheap handle on the current state (and trajectory) for `restore`."""
        ...

    def restore(self, snapshot: Any) -> None:
        """Return to a state captured by `snapshot()`."""
        ...

    def objects(self) -> list[ObjectRef]:
        """The objects the agent may name in steps, as `<name> (id)`."""
        ...

    def rooms(self) -> list[ObjectRef]:
        """The rooms of the scene."""
        ...

    def location(self) -> ObjectRef | None:
        """The room the agent stands in."""
        ...

    def executed_steps(self) -> list[Step]:
        """The successful steps of the current trajectory, in order."""
        ...

    def score(self) -> GoalReport:
        """Goal report for the current trajectory: the only door to the goal annotations."""
        ...


@runtime_checkable
class HasGoldPlans(Protocol):
    """An environment whose tasks come with annotated reference plans."""

    def gold_plan(self, task: Task | str) -> list[Step]:
        """The annotated reference plan of a task."""
        ...
