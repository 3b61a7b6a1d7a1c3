"""Planning methods by name, so the CLI and the benchmark can say `tree-planner` or `zero-shot`."""

from __future__ import annotations

from typing import Any, Protocol

from langchain_core.language_models import BaseChatModel

from environments import Environment, Task
from planner.baselines import (
    GlobalReplanPlanner,
    IterativePlanner,
    LocalReplanPlanner,
    ZeroShotPlanner,
)
from planner.errors import PlannerError
from planner.result import EpisodeResult
from planner.tree_planner import TreePlanner


class Method(Protocol):
    """Anything that runs an episode of a task in an environment."""

    def run(self, env: Environment, task: Task | str) -> EpisodeResult: ...


def default_samples(llm_spec: str) -> int:
    """Plans sampled per episode when not given: 50 (the paper), 5 for the slow local models."""
    return 5 if llm_spec.split(":")[0] == "local" else 50


METHODS = (
    "tree-planner",
    "tree-planner-nc",
    "zero-shot",
    "iterative",
    "local-replan",
    "global-replan",
)


def make_method(
    name: str,
    llm: BaseChatModel,
    *,
    seed: int = 0,
    max_corrections: int = 10,
    token_budget: int | None = None,
    llm_name: str = "",
    **tree_options: Any,
) -> Method:
    """Build a method by name; `tree_options` go to `TreePlanner` (samples, votes, choice...).

    A `plan_source` option gives every method its plans (baselines take the first one).
    """
    common: dict[str, Any] = {
        "seed": seed,
        "token_budget": token_budget,
        "llm_name": llm_name,
        "plan_source": tree_options.pop("plan_source", None),
    }
    if name == "tree-planner":
        return TreePlanner(llm, max_corrections=max_corrections, **common, **tree_options)
    if name == "tree-planner-nc":
        return TreePlanner(
            llm, max_corrections=0, method="tree-planner-nc", **common, **tree_options
        )
    baselines = {
        "zero-shot": ZeroShotPlanner,
        "iterative": IterativePlanner,
        "local-replan": LocalReplanPlanner,
        "global-replan": GlobalReplanPlanner,
    }
    if name in baselines:
        return baselines[name](llm, max_corrections=max_corrections, **common)
    raise PlannerError(f"unknown method {name!r}; known: {', '.join(METHODS)}")
