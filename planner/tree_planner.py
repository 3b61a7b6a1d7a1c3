"""`TreePlanner`: plan sampling, action tree and grounded deciding as one episode."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from langchain_core.language_models import BaseChatModel

from environments import Environment, Task
from planner.choice import Chooser, make_chooser
from planner.deciding import DecisionConfig, grounded_decide
from planner.episode import EpisodeLog, as_task, finish
from planner.errors import BudgetExhaustedError, LLMError
from planner.llm_client import LLMClient
from planner.plan_sampling import PlanSamples, PlanSamplingConfig, sample_plans
from planner.result import EpisodeResult
from planner.tree import build_action_tree, tree_stats, tree_to_json

PlanSource = Callable[[LLMClient, Environment, Task], PlanSamples]
"""Where plans come from: a live sampling call (default) or, e.g., recorded model outputs."""


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
    prior_weight: float = 1.0
    plan_source: PlanSource | None = None

    def chooser(self, client: LLMClient) -> Chooser:
        """The choice strategy at branches: `vote`, `score` or `auto` (score when logits exist)."""
        return make_chooser(
            self.choice,
            client,
            votes=self.votes,
            temperature=self.vote_temperature,
            prior_weight=self.prior_weight,
        )

    def plans(self, client: LLMClient, env: Environment, task: Task) -> PlanSamples:
        """The candidate plans: from `plan_source`, else one live sampling call."""
        if self.plan_source is not None:
            return self.plan_source(client, env, task)
        config = PlanSamplingConfig(
            n=self.n_samples, temperature=self.sample_temperature, top_p=self.top_p, seed=self.seed
        )
        return sample_plans(client, env, task, config)

    def run(self, env: Environment, task: Task | str) -> EpisodeResult:
        """Run one episode; LLM errors end it early with the error recorded, never lost."""
        log = EpisodeLog()
        env.reset(task)
        task = as_task(env, task)
        client = LLMClient(self.llm, token_budget=self.token_budget)
        samples = PlanSamples(requested=self.n_samples)
        tree = build_action_tree([])
        chooser = self.chooser(client)
        try:
            samples = self.plans(client, env, task)
            tree = build_action_tree(samples.plans)
            trace = grounded_decide(
                env,
                task,
                tree,
                chooser,
                DecisionConfig(max_corrections=self.max_corrections, seed=self.seed),
            )
            log.steps = trace.steps
            log.corrections = trace.corrections
            log.backtracks = trace.backtracks
            log.reached_end = trace.reached_end
            log.stop_reason = trace.stop_reason
            log.error = trace.error
            decisions = {
                "llm_decisions": trace.llm_decisions,
                "free_decisions": trace.free_decisions,
                "invalid_replies": trace.invalid_replies,
                "fallbacks": trace.fallbacks,
            }
        except LLMError as exc:
            log.stop_reason = "budget" if isinstance(exc, BudgetExhaustedError) else "error"
            log.error = str(exc)
            decisions = {}
        for node, spent in client.ledger.by_node().items():
            if node in tree:
                tree.nodes[node]["tokens"] = spent
        log.details = {
            "plans_requested": samples.requested,
            "plans_kept": len(samples.plans),
            "plans_distinct": samples.distinct,
            "plans_dropped": samples.dropped,
            "tree": tree_stats(tree),
            "choice": chooser.name,
            **decisions,
        }
        return finish(
            env,
            task,
            self.method,
            client,
            log,
            llm_name=self.llm_name,
            seed=self.seed,
            tree=tree_to_json(tree),
        )
