"""`TreePlanner`: plan sampling, action tree and grounded deciding as one episode."""

from __future__ import annotations

import time
from dataclasses import dataclass

from langchain_core.language_models import BaseChatModel

from environments import Environment, Task
from planner.choice import Chooser, make_chooser
from planner.deciding import DecisionConfig, DecisionTrace, grounded_decide
from planner.errors import BudgetExhaustedError, LLMError
from planner.llm_client import LLMClient
from planner.plan_sampling import PlanSamples, PlanSamplingConfig, sample_plans
from planner.result import EpisodeResult, TokenReport
from planner.tree import build_action_tree, tree_stats, tree_to_json


@dataclass
class TreePlanner:
    """Tree-Planner (Hu et al., ICLR 2024): one sampling call, an action tree, grounded deciding.

    >>> planner = TreePlanner(llm, n_samples=50, votes=20, max_corrections=10, seed=0)
    >>> result = planner.run(env, "27_2")   # doctest: +SKIP
    """

    llm: BaseChatModel
    n_samples: int = 50
    votes: int = 20
    max_corrections: int = 10
    seed: int = 0
    sample_temperature: float = 0.8
    top_p: float = 0.95
    vote_temperature: float = 0.7
    token_budget: int | None = None
    llm_name: str = ""
    method: str = "tree-planner"
    choice: str = "auto"

    def chooser(self, client: LLMClient) -> Chooser:
        """The choice strategy at branches: `vote`, `score` or `auto` (score when logits exist)."""
        return make_chooser(
            self.choice, client, votes=self.votes, temperature=self.vote_temperature
        )

    def run(self, env: Environment, task: Task | str) -> EpisodeResult:
        """Run one episode; LLM errors end it early with the error recorded, never lost."""
        started = time.perf_counter()
        env.reset(task)
        task = _as_task(env, task)
        client = LLMClient(self.llm, token_budget=self.token_budget)
        samples = PlanSamples(requested=self.n_samples)
        trace = DecisionTrace()
        tree = build_action_tree([])
        chooser = self.chooser(client)
        try:
            samples = sample_plans(
                client,
                env,
                task,
                PlanSamplingConfig(
                    n=self.n_samples,
                    temperature=self.sample_temperature,
                    top_p=self.top_p,
                    seed=self.seed,
                ),
            )
            tree = build_action_tree(samples.plans)
            trace = grounded_decide(
                env,
                task,
                tree,
                chooser,
                DecisionConfig(max_corrections=self.max_corrections, seed=self.seed),
            )
        except LLMError as exc:
            trace.stop_reason = "budget" if isinstance(exc, BudgetExhaustedError) else "error"
            trace.error = str(exc)
        for node, spent in client.ledger.by_node().items():
            if node in tree:
                tree.nodes[node]["tokens"] = spent
        report = env.score()
        if not trace.reached_end:
            report = report.model_copy(update={"executable": False})
        return EpisodeResult(
            task=task,
            method=self.method,
            llm=self.llm_name or type(self.llm).__name__,
            seed=self.seed,
            steps=trace.steps,
            corrections=trace.corrections,
            backtracks=trace.backtracks,
            llm_calls=len(client.ledger.calls),
            report=report,
            tokens=TokenReport.of(client.ledger),
            wall_time_s=time.perf_counter() - started,
            stop_reason=trace.stop_reason,
            error=trace.error,
            details={
                "plans_requested": samples.requested,
                "plans_kept": len(samples.plans),
                "plans_distinct": samples.distinct,
                "plans_dropped": samples.dropped,
                "tree": tree_stats(tree),
                "choice": chooser.name,
                "llm_decisions": trace.llm_decisions,
                "free_decisions": trace.free_decisions,
                "invalid_replies": trace.invalid_replies,
                "fallbacks": trace.fallbacks,
            },
            tree=tree_to_json(tree),
        )


def _as_task(env: Environment, task: Task | str) -> Task:
    if isinstance(task, Task):
        return task
    lookup = getattr(env, "task", None)
    if callable(lookup):
        found = lookup(task)
        assert isinstance(found, Task)
        return found
    return next(t for t in env.tasks() if t.id == task)
