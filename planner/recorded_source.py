"""Recorded real LLM plans as a plan source (VirtualHome: 15 models' outputs for every task).

The plans are replayed, not generated: their tokens are counted from their text with tiktoken
and recorded in the ledger as estimates (phase `plan_sampling`), so token figures stay
comparable with live sampling.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from environments import Environment, Task
from planner.errors import PlannerError
from planner.ledger import LLMCall
from planner.llm_client import LLMClient
from planner.plan_sampling import PlanSamples


@dataclass(frozen=True)
class RecordedPlanSource:
    """All recorded models' plans for the task (`model=None`), or one model's plan."""

    model: str | None = None

    def __post_init__(self) -> None:
        if self.model is not None:
            from environments.virtualhome.recorded import recorded_models

            models = recorded_models()
            if self.model not in models:
                raise PlannerError(
                    f"no recorded plans of {self.model!r}; known: {', '.join(models)}"
                )

    def __call__(self, client: LLMClient, env: Environment, task: Task) -> PlanSamples:
        if env.name != "virtualhome":
            raise PlannerError("recorded plans exist only for the virtualhome environment")
        from environments.virtualhome.recorded import recorded_models, recorded_plans

        models = recorded_models()
        if self.model is not None and self.model not in models:
            raise PlannerError(f"no recorded plans of {self.model!r}; known: {', '.join(models)}")
        plans = recorded_plans(task.id, [self.model] if self.model else None)
        samples = PlanSamples(requested=len(plans), raw=[p.raw for p in plans])
        reasons: Counter[str] = Counter()
        for index, plan in enumerate(plans):
            if plan.parse_error is not None:
                reasons[plan.parse_error_reason or "unparseable"] += 1
            elif not plan.steps:
                reasons["empty"] += 1
            else:
                samples.plans.append(list(plan.steps))
                samples.plan_sample_ids.append(index)
        samples.dropped = dict(reasons)
        client.ledger.record(
            LLMCall(
                phase="plan_sampling",
                prompt_tokens=0,
                completion_tokens=sum(p.tokens for p in plans),
                estimated=True,
                samples_requested=len(plans),
                samples_returned=len(plans),
            )
        )
        return samples
