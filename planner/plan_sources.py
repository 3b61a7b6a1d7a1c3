"""Plan sources for a run: live sampling (None) or recorded model outputs."""

from __future__ import annotations

from planner.errors import PlannerError
from planner.tree_planner import PlanSource


def make_plan_source(spec: str) -> PlanSource | None:
    """`live` -> None (sample with the LLM); `recorded` or `recorded:MODEL` -> recorded plans."""
    if spec == "live":
        return None
    name, _, model = spec.partition(":")
    if name == "recorded":
        from planner.recorded_source import RecordedPlanSource

        return RecordedPlanSource(model or None)
    raise PlannerError(f"unknown plan source {spec!r}; use live, recorded or recorded:MODEL")
