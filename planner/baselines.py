"""The paper's baselines, sharing the LLM layer, prompt style, environment and scorer.

- `zero-shot`: one greedy plan executed open loop; stops at the first failure.
- `iterative`: one LLM call per step, given the observation and the executed steps.
- `local-replan`: one plan; on a failed step, re-plan only the remainder from the current state
  with the error in the prompt.
- `global-replan`: one plan; on a failed step, re-plan the whole task from the start with the
  failed plan and the error in the prompt (the environment is reset).

Every method counts a correction for each failure it recovers from and stops when a failure
would exceed `max_corrections` (0 = no correction), as Tree-Planner does.
"""

from __future__ import annotations

from dataclasses import dataclass

from langchain_core.language_models import BaseChatModel

from environments import Environment, StepOutcome, Task
from planner.episode import EpisodeLog, as_task, finish
from planner.errors import BudgetExhaustedError, LLMError
from planner.grounding import ObjectGrounder
from planner.ledger import Phase
from planner.llm_client import LLMClient, SamplingParams
from planner.plan_sampling import PlanSamplingConfig, prompt_fields, sample_plans
from planner.result import EpisodeResult
from planner.tree_planner import PlanSource
from prompts import render
from skills import PlanParseError, Step, parse_step, render_plan, step_grammar


@dataclass
class Baseline:
    """Shared settings and the episode frame; subclasses implement `_walk`."""

    llm: BaseChatModel
    max_corrections: int = 10
    seed: int = 0
    token_budget: int | None = None
    llm_name: str = ""
    max_steps: int = 30
    plan_source: PlanSource | None = None
    method = "baseline"

    def run(self, env: Environment, task: Task | str) -> EpisodeResult:
        """Run one episode; LLM errors end it early with the error recorded."""
        log = EpisodeLog()
        env.reset(task)
        task = as_task(env, task)
        client = LLMClient(self.llm, token_budget=self.token_budget)
        try:
            self._walk(env, task, client, log)
        except LLMError as exc:
            log.stop_reason = "budget" if isinstance(exc, BudgetExhaustedError) else "error"
            log.error = str(exc)
        return finish(env, task, self.method, client, log, llm_name=self.llm_name, seed=self.seed)

    def _walk(self, env: Environment, task: Task, client: LLMClient, log: EpisodeLog) -> None:
        raise NotImplementedError

    def _plan(
        self, client: LLMClient, env: Environment, task: Task, prompt: str | None, attempt: int
    ) -> list[Step] | None:
        """One greedy plan (the plan-sampling prompt, or a re-planning prompt).

        With a `plan_source` (e.g. a recorded model's output) the first plan comes from it.
        """
        if prompt is None and self.plan_source is not None:
            plans = self.plan_source(client, env, task).plans
            return plans[0] if plans else None
        config = PlanSamplingConfig(
            n=1, temperature=0.0, top_p=1.0, max_steps=self.max_steps, seed=self.seed + attempt
        )
        phase: Phase = "plan_sampling" if prompt is None else "replanning"
        samples = sample_plans(client, env, task, config, prompt=prompt, phase=phase)
        return samples.plans[0] if samples.plans else None

    def _execute_and_replan(
        self, env: Environment, task: Task, client: LLMClient, log: EpisodeLog
    ) -> None:
        """Execute a plan; after each failure, within the cap, ask `_replan_prompt` for another."""
        plan = self._plan(client, env, task, None, 0)
        while plan is not None:
            failure = log.execute_until_failure(env, plan)
            if failure is None:
                log.reached_end, log.stop_reason = True, "end"
                return
            if not self._may_correct(log):
                return
            prompt = self._replan_prompt(env, task, plan, failure)
            plan = self._plan(client, env, task, prompt, log.corrections)
        log.stop_reason = "no_plan"

    def _replan_prompt(
        self, env: Environment, task: Task, plan: list[Step], failure: StepOutcome
    ) -> str:
        raise NotImplementedError

    def _may_correct(self, log: EpisodeLog) -> bool:
        """Count a correction if the cap allows one; otherwise mark the stop."""
        if log.corrections >= self.max_corrections:
            log.stop_reason = "correction_cap" if self.max_corrections else "failed"
            return False
        log.corrections += 1
        return True


def _history(env: Environment) -> str:
    steps = [s.render() for s in env.executed_steps()]
    return "\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1)) or "(none yet)"


@dataclass
class ZeroShotPlanner(Baseline):
    """One greedy plan, executed open loop."""

    method = "zero-shot"

    def _walk(self, env: Environment, task: Task, client: LLMClient, log: EpisodeLog) -> None:
        plan = self._plan(client, env, task, None, 0)
        if plan is None:
            log.stop_reason = "no_plan"
            return
        failure = log.execute_until_failure(env, plan)
        log.reached_end = failure is None
        log.stop_reason = "end" if failure is None else "failed"


@dataclass
class LocalReplanPlanner(Baseline):
    """One plan; on failure, re-plan the remainder from the current state."""

    method = "local-replan"

    def _walk(self, env: Environment, task: Task, client: LLMClient, log: EpisodeLog) -> None:
        self._execute_and_replan(env, task, client, log)

    def _replan_prompt(
        self, env: Environment, task: Task, plan: list[Step], failure: StepOutcome
    ) -> str:
        return render(
            env.name,
            "replan_local",
            **prompt_fields(env, task),
            history=_history(env),
            feedback=f"{failure.step} ({failure.message})",
            observation=env.observe(),
        )


@dataclass
class GlobalReplanPlanner(Baseline):
    """One plan; on failure, reset and re-plan the whole task with the failed plan shown."""

    method = "global-replan"

    def _walk(self, env: Environment, task: Task, client: LLMClient, log: EpisodeLog) -> None:
        self._execute_and_replan(env, task, client, log)

    def _replan_prompt(
        self, env: Environment, task: Task, plan: list[Step], failure: StepOutcome
    ) -> str:
        env.reset(task)  # the new plan starts from the initial state
        return render(
            env.name,
            "replan_global",
            **prompt_fields(env, task),
            failed_plan=render_plan(plan),
            failed_step=failure.step,
            feedback=failure.message,
        )


@dataclass
class IterativePlanner(Baseline):
    """One LLM call per step (the paper's Iterative-Planner)."""

    method = "iterative"

    def _walk(self, env: Environment, task: Task, client: LLMClient, log: EpisodeLog) -> None:
        grounder = ObjectGrounder(env.objects(), getattr(env, "synonyms", lambda: None)())
        params = SamplingParams(temperature=0.0, max_tokens=48, stop=["\n"], seed=self.seed)
        if getattr(client.llm, "supports_grammar", False):
            params.extra["grammar"] = step_grammar(env.vocabulary, env.objects())
        feedback: str | None = None
        for number in range(self.max_steps):
            prompt = render(
                env.name,
                "next_step",
                **prompt_fields(env, task),
                history=_history(env),
                observation=env.observe(),
                feedback=f"Your last step failed: {feedback}. Try something else.\n"
                if feedback
                else "",
            )
            params.seed = self.seed + number
            phase: Phase = "correction" if feedback else "deciding"
            reply = client.sample(prompt, 1, params, phase=phase)[0].strip()
            if "[END]" in reply.upper():
                log.reached_end, log.stop_reason = True, "end"
                return
            step, problem = _parse_reply(reply, env, grounder)
            if step is not None:
                before = env.snapshot()
                outcome = log.execute(env, step)
                if outcome.success:
                    feedback = None
                    continue
                env.restore(before)  # the failure is recovered by the next step or [END]
                problem = f"{outcome.step} ({outcome.message})"
            if not self._may_correct(log):
                return
            feedback = problem
        log.stop_reason = "max_steps"


def _parse_reply(reply: str, env: Environment, grounder: ObjectGrounder) -> tuple[Step | None, str]:
    """The step a reply writes, grounded, or (None, why not)."""
    line = next((ln for ln in reply.splitlines() if "[" in ln), reply)
    try:
        step = parse_step(line, env.vocabulary)
    except PlanParseError as exc:
        return None, f"{line.strip()!r} is not a valid step: {exc.reason}"
    grounded = grounder.ground_step(step)
    if grounded is None:
        return None, f"{step.render()} names an object that is not in the house"
    return grounded, ""
