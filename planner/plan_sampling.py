"""Phase 1: one LLM call for N candidate plans, parsed and grounded against the scene."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import BaseModel, Field

from environments import Environment, Task
from planner.grounding import ObjectGrounder
from planner.ledger import Phase
from planner.llm_client import LLMClient, SamplingParams
from prompts import load_text, render
from skills import ObjectRef, PlanParseError, Step, parse_step, plan_grammar


class PlanSamples(BaseModel):
    """The plans one sampling call produced: kept plans in sample order, and why others went."""

    requested: int
    plans: list[list[Step]] = Field(default_factory=list)
    plan_sample_ids: list[int] = Field(
        default_factory=list, description="sample index of each plan"
    )
    dropped: dict[str, int] = Field(default_factory=dict, description="reason -> count")
    raw: list[str] = Field(default_factory=list, description="the model's text of every sample")

    @property
    def distinct(self) -> int:
        return len({tuple(p) for p in self.plans})


@dataclass(frozen=True)
class PlanSamplingConfig:
    """Settings of plan sampling (the paper's: N=50, temperature 0.8, top-p 0.95)."""

    n: int = 50
    temperature: float = 0.8
    top_p: float = 0.95
    max_tokens: int = 512
    max_steps: int = 20
    seed: int = 0


def group_objects(objects: Iterable[ObjectRef]) -> str:
    """Objects grouped by name, `<floor> (2, 3, 4), <sink> (42)`: a third of the flat tokens."""
    ids: dict[str, list[int]] = {}
    for obj in objects:
        if obj.id is not None:
            ids.setdefault(obj.name, []).append(obj.id)
    return ", ".join(f"<{name}> ({', '.join(map(str, sorted(v)))})" for name, v in ids.items())


def scene_lines(env: Environment) -> dict[str, str]:
    """Rooms, objects and location as the prompts show them."""
    location = env.location()
    return {
        "rooms": ", ".join(r.render() for r in env.rooms()),
        "objects": group_objects(env.objects()),
        "location": location.render() if location else "house",
    }


def prompt_fields(env: Environment, task: Task) -> dict[str, str]:
    """The fields every planning prompt shares: skills, examples, scene and task."""
    return {
        "skills": env.vocabulary.describe(),
        "examples": load_text(env.name, "examples.txt"),
        "title": task.title,
        "description": task.description,
        **scene_lines(env),
    }


def plan_prompt(env: Environment, task: Task) -> str:
    """The plan-sampling prompt: static part (skills, examples) first, then scene and task."""
    return render(env.name, "plan_sampling", **prompt_fields(env, task))


def parse_sample(
    text: str,
    env: Environment,
    grounder: ObjectGrounder,
    max_steps: int,
    constrained: bool = False,
) -> tuple[list[Step] | None, str | None]:
    """One sample's text -> grounded plan, or (None, reason it was dropped).

    Under constrained decoding a line can only be unparseable because the token limit cut it
    off; that last line is then ignored instead of dropping the plan.
    """
    steps: list[Step] = []
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        if line.strip().lower().startswith("task:"):
            break  # the model went on to write another example
        if "[" not in line:
            continue
        try:
            step = parse_step(line, env.vocabulary, line_no=number)
        except PlanParseError as exc:
            if constrained and number == len(lines):
                break
            return None, exc.kind
        grounded = grounder.ground_step(step)
        if grounded is None:
            return None, "unknown_object"
        steps.append(grounded)
        if len(steps) >= max_steps:
            break
    if not steps:
        return None, "empty"
    return steps, None


def sample_plans(
    client: LLMClient,
    env: Environment,
    task: Task,
    config: PlanSamplingConfig | None = None,
    *,
    grounder: ObjectGrounder | None = None,
    prompt: str | None = None,
    phase: Phase = "plan_sampling",
) -> PlanSamples:
    """Ask the model once for `config.n` plans (the environment must be reset to `task`).

    `prompt` replaces the plan-sampling prompt (re-planning baselines ask for a remainder).
    """
    config = config or PlanSamplingConfig()
    params = SamplingParams(
        temperature=config.temperature,
        top_p=config.top_p,
        max_tokens=config.max_tokens,
        stop=["\n\n", "\nTask:"],
        seed=config.seed,
    )
    constrained = bool(getattr(client.llm, "supports_grammar", False))
    if constrained:
        # Constrained decoding: only vocabulary steps naming scene objects can be written; a
        # model caught repeating one step is stopped after three copies.
        params.extra["grammar"] = plan_grammar(env.vocabulary, env.objects(), config.max_steps)
        params.extra["stop_on_repeat"] = 3
    prompt = prompt if prompt is not None else plan_prompt(env, task)
    texts = client.sample(prompt, config.n, params, phase=phase)
    grounder = grounder or ObjectGrounder(env.objects(), getattr(env, "synonyms", lambda: None)())
    samples = PlanSamples(requested=config.n, raw=texts)
    reasons: Counter[str] = Counter()
    for index, text in enumerate(texts):
        plan, reason = parse_sample(text, env, grounder, config.max_steps, constrained)
        if plan is None:
            reasons[reason or "unparseable"] += 1
            continue
        samples.plans.append(plan)
        samples.plan_sample_ids.append(index)
    samples.dropped = dict(reasons)
    return samples
