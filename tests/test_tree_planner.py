"""Whole Tree-Planner episodes on 27_2 (Wash clothes) with a scripted model.

The main episode samples the gold plan twice and two plans that fail midway (see
`helpers.scenario_plans`); the model votes for the failing branches first, so the episode shows
two corrections, one backtrack with a restored state, and success on the gold plan.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from fakes import ScriptedChatModel, UsageStyle, always, route
from helpers import (
    BAD_PLAN,
    BAD_PLAN_2,
    GRAB_SOAP,
    GRAB_WASHER,
    PUT_SOAP_IN_WASHER,
    TASK,
    WALK_DINING,
    RecordingEnv,
    gold_lines,
    plan_text,
    prefer,
    rendered,
    scenario_plans,
    scenario_policy,
    shared_env,
)

from planner.ledger import LLMCall
from planner.result import EpisodeResult
from planner.tree import tree_from_json, tree_stats
from planner.tree_planner import TreePlanner

VOTES = 3


@dataclass
class Episode:
    result: EpisodeResult
    fake: ScriptedChatModel
    env: RecordingEnv
    final_steps: list[str]
    """The environment's trajectory when the episode ended (the env is shared with other tests)."""

    @property
    def tree(self) -> dict[str, Any]:
        """The action tree the result holds, as JSON."""
        assert self.result.tree is not None
        return self.result.tree


def run_episode(
    plans: Sequence[str] | None = None,
    decide: Callable[[str], str | Sequence[str]] | None = None,
    *,
    supports_n: bool = True,
    usage: UsageStyle = "llm_output",
    **settings: Any,
) -> Episode:
    plans = scenario_plans() if plans is None else plans
    fake = ScriptedChatModel(
        respond=route(always(*plans), decide or scenario_policy()),
        supports_n=supports_n,
        usage=usage,
    )
    env = RecordingEnv(shared_env())
    planner = TreePlanner(fake, n_samples=len(plans), votes=VOTES, **settings)
    result = planner.run(env, TASK)
    return Episode(result, fake, env, rendered(env.executed_steps()))


@pytest.fixture(scope="module")
def episode() -> Episode:
    return run_episode()


def test_the_episode_succeeds_after_correcting_its_failures(episode):
    result = episode.result

    assert (result.success, result.executable, result.gcr) == (True, True, 1.0)
    assert result.stop_reason == "end"
    assert result.error is None


def test_the_failures_are_counted_as_corrections(episode):
    result = episode.result

    assert result.corrections == 2
    assert [s.step for s in result.failed_steps] == [GRAB_SOAP, PUT_SOAP_IN_WASHER]


def test_an_exhausted_branch_is_backtracked_with_the_ancestors_state_restored(episode):
    assert episode.result.backtracks == 1
    assert episode.env.after_restore == [[WALK_DINING]]


def test_the_final_trajectory_is_the_gold_plan(episode):
    assert episode.final_steps == list(gold_lines())
    assert [s.step for s in episode.result.steps if s.success][-13:] == list(gold_lines()[1:])


def test_only_branches_cost_llm_calls(episode):
    details = episode.result.details

    assert (details["llm_decisions"], details["free_decisions"]) == (2, 16)
    assert episode.result.llm_calls == 1 + 2  # one sampling request, one request per vote
    assert len(episode.fake.calls) == 3


def test_the_plan_sampling_figures_are_reported(episode):
    details = episode.result.details

    assert details["plans_requested"] == details["plans_kept"] == 4
    assert details["plans_distinct"] == 3
    assert details["plans_dropped"] == {}
    assert details["tree"] == {"nodes": 20, "distinct_plans": 3, "depth": 15}


@pytest.mark.parametrize("supports_n", [True, False], ids=["n", "no-n"])
@pytest.mark.parametrize("usage", ["llm_output", "message"])
def test_token_totals_equal_exactly_the_usage_the_model_reported(supports_n, usage):
    episode = run_episode(supports_n=supports_n, usage=usage)
    tokens = episode.result.tokens

    assert tokens.prompt_tokens == episode.fake.prompt_tokens
    assert tokens.completion_tokens == episode.fake.completion_tokens
    assert tokens.total_tokens == episode.fake.prompt_tokens + episode.fake.completion_tokens
    assert tokens.estimated is False
    assert episode.result.llm_calls == len(episode.fake.calls)


def test_a_model_ignoring_n_costs_one_request_per_sample_and_per_vote():
    episode = run_episode(supports_n=False)

    assert [c.n for c in episode.fake.plan_calls] == [4, None, None, None]
    assert [c.n for c in episode.fake.decision_calls] == [None] * (2 * VOTES)  # n not re-sent
    assert episode.result.llm_calls == 4 + 2 * VOTES
    assert episode.result.success


def test_tokens_are_reported_per_phase(episode):
    per_phase = episode.result.tokens.per_phase
    plan_call, vote, correction = episode.fake.calls

    assert list(per_phase) == ["plan_sampling", "deciding", "correction"]
    for phase, call in zip(per_phase.values(), (plan_call, vote, correction), strict=True):
        assert (phase.calls, phase.prompt_tokens, phase.completion_tokens) == (
            1,
            call.prompt_tokens,
            call.completion_tokens,
        )


def test_tokens_spent_deciding_are_attributed_to_the_tree_node_that_branched(episode):
    _, vote, correction = episode.fake.calls
    nodes = {n["id"]: n for n in episode.tree["nodes"]}

    spent = {n: node["tokens"] for n, node in nodes.items() if node["tokens"]}
    (branch,) = spent
    assert nodes[branch]["step"] == WALK_DINING
    assert spent[branch] == sum(c.prompt_tokens + c.completion_tokens for c in (vote, correction))
    assert {c.node for c in episode.result.tokens.calls} == {None, branch}


def test_every_llm_call_is_in_the_result(episode):
    calls = episode.result.tokens.calls

    assert [c.phase for c in calls] == ["plan_sampling", "deciding", "correction"]
    assert calls[0] == LLMCall(
        phase="plan_sampling",
        prompt_tokens=episode.fake.calls[0].prompt_tokens,
        completion_tokens=episode.fake.calls[0].completion_tokens,
        samples_requested=4,
        samples_returned=4,
    )


def test_without_reported_usage_the_tokens_are_flagged_as_estimates():
    episode = run_episode(usage="none")

    assert episode.result.tokens.estimated is True
    assert episode.result.summary()["tokens_estimated"] is True
    assert episode.result.tokens.total_tokens > 0


def test_the_result_holds_the_action_tree_with_node_statuses(episode):
    tree = tree_from_json(episode.tree)

    assert tree_stats(tree) == episode.result.details["tree"]
    statuses = [d["status"] for _, d in tree.nodes(data=True)]
    assert statuses.count("failed") == 3  # Grab soap, Walk washer, PutBack


def test_the_result_round_trips_through_json(episode, tmp_path):
    path = tmp_path / "episode.json"

    episode.result.write(path)

    again = EpisodeResult.read(path)
    assert again == episode.result
    assert again.summary() == episode.result.summary()


def test_the_summary_has_the_headline_figures(episode):
    summary = episode.result.summary()

    assert summary["task"] == TASK
    assert summary["method"] == "tree-planner"
    assert (summary["success"], summary["executable"], summary["gcr"]) == (True, True, 1.0)
    assert (summary["corrections"], summary["backtracks"], summary["llm_calls"]) == (2, 1, 3)
    assert summary["prompt_tokens"] == episode.fake.prompt_tokens
    assert summary["completion_tokens"] == episode.fake.completion_tokens
    assert summary["steps"] == 4 + 13


def test_the_result_names_the_model_by_its_class_unless_given_a_name(episode):
    assert episode.result.llm == "ScriptedChatModel"
    assert run_episode(llm_name="openai:gpt-4o-mini").result.llm == "openai:gpt-4o-mini"


def test_ending_right_after_a_corrected_failure_is_executable():
    # The second plan is the gold plan plus a step that fails; the model votes for that step,
    # it fails, and the only option left is [END]: the executed trajectory is the gold plan.
    plans = [plan_text(gold_lines()), plan_text([*gold_lines(), GRAB_WASHER])]
    episode = run_episode(plans, prefer(GRAB_WASHER))

    assert episode.result.corrections == 1
    assert episode.result.stop_reason == "end"
    assert episode.final_steps == list(gold_lines())
    assert episode.result.success
    assert episode.result.executable


# -- episodes that stop early --------------------------------------------------------------------


def test_max_corrections_zero_stops_at_the_first_failure_and_is_not_executable():
    result = run_episode(max_corrections=0).result

    assert result.stop_reason == "correction_cap"
    assert (result.success, result.executable) == (False, False)
    assert result.corrections == 0
    assert [s.step for s in result.steps] == [WALK_DINING, GRAB_SOAP]


def test_max_corrections_one_stops_at_the_second_failure():
    result = run_episode(max_corrections=1).result

    assert result.stop_reason == "correction_cap"
    assert result.corrections == 1
    assert result.steps[-1].step == PUT_SOAP_IN_WASHER
    assert result.executable is False


def test_a_tree_whose_every_plan_fails_ends_exhausted():
    result = run_episode([plan_text(BAD_PLAN), plan_text(BAD_PLAN_2)], always("A")).result

    assert result.stop_reason == "exhausted"
    assert (result.success, result.executable) == (False, False)
    assert result.corrections == 2


def test_no_usable_plan_gives_an_empty_tree_and_ends_exhausted():
    result = run_episode(["no idea", "[Fly] <soap> (1002)"]).result

    assert result.stop_reason == "exhausted"
    assert result.details["plans_dropped"] == {"empty": 1, "unknown_action": 1}
    assert result.steps == []
    assert result.llm_calls == 1


def test_a_budget_spent_mid_episode_stops_it_and_still_returns_a_result():
    plan_call_tokens = 100  # far less than the sampling request reports (over 1000)
    episode = run_episode(token_budget=plan_call_tokens)
    result = episode.result

    assert result.stop_reason == "budget"
    assert result.error is not None
    assert result.error.startswith(f"token budget of {plan_call_tokens} spent")
    assert result.llm_calls == len(episode.fake.calls) == 1
    assert [s.step for s in result.steps] == [WALK_DINING]
    assert (result.success, result.executable) == (False, False)
    assert result.tokens.total_tokens == episode.fake.prompt_tokens + episode.fake.completion_tokens


def test_a_budget_of_zero_makes_no_call_at_all():
    episode = run_episode(token_budget=0)

    assert episode.result.stop_reason == "budget"
    assert episode.fake.calls == []
    assert episode.result.llm_calls == 0
    assert [n["id"] for n in episode.tree["nodes"]] == [0]


def test_a_model_error_while_sampling_ends_the_episode_with_reason_error():
    def down(prompt: str) -> str:
        raise ConnectionError("connection refused")

    fake = ScriptedChatModel(respond=down)
    result = TreePlanner(fake, n_samples=2, votes=VOTES).run(shared_env(), TASK)

    assert result.stop_reason == "error"
    assert result.error == "cannot reach the model endpoint: connection refused"
    assert result.llm_calls == 0
    assert result.executable is False
