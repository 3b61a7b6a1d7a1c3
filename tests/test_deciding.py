"""Phase 3: grounded deciding, a walk down the action tree in VirtualHome (task 27_2).

The main scenario (see `helpers.scenario_plans` / `scenario_policy`): the model votes for a step
that fails, then after the failure for a branch whose next step fails too; the walk climbs back,
restores the state and finishes on the gold plan.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import networkx as nx
import pytest
from fakes import ScriptedChatModel, always
from helpers import (
    BAD_PLAN,
    BAD_PLAN_2,
    GRAB_SOAP,
    PUT_SOAP_IN_WASHER,
    TASK,
    WALK_BASKET,
    WALK_DINING,
    WALK_WASHER,
    RecordingEnv,
    fresh_env,
    gold_lines,
    gold_text,
    options_of,
    plan_text,
    rendered,
    scenario_plans,
    scenario_policy,
)

from planner.choice import VoteChooser
from planner.deciding import DecisionConfig, DecisionTrace, grounded_decide
from planner.llm_client import LLMClient
from planner.tree import ROOT, build_action_tree, path_to
from skills import parse_plan

VOTES = 3


@dataclass
class Walk:
    """One grounded_decide run and everything around it."""

    trace: DecisionTrace
    tree: nx.DiGraph
    env: RecordingEnv
    fake: ScriptedChatModel
    client: LLMClient

    def node(self, *steps: str) -> int:
        """The tree node reached from the root by `steps`."""
        node = ROOT
        for step in steps:
            (node,) = [c for c in self.tree.successors(node) if self.step(c) == step]
        return node

    def step(self, node: int) -> str:
        return self.tree.nodes[node]["step"].render()

    def status(self, *steps: str) -> str:
        return self.tree.nodes[self.node(*steps)]["status"]


def walk(
    plans: Sequence[str],
    decide: Callable[[str], str | Sequence[str]],
    *,
    max_corrections: int = 10,
    max_steps: int = 200,
    token_budget: int | None = None,
) -> Walk:
    env = RecordingEnv(fresh_env())
    tree = build_action_tree([parse_plan(p, env.vocabulary) for p in plans])
    fake = ScriptedChatModel(respond=decide)
    client = LLMClient(fake, token_budget=token_budget)
    config = DecisionConfig(max_corrections=max_corrections, max_steps=max_steps)
    trace = grounded_decide(env, env.task(TASK), tree, VoteChooser(client, votes=VOTES), config)
    return Walk(trace, tree, env, fake, client)


@pytest.fixture
def scenario() -> Walk:
    return walk(scenario_plans(), scenario_policy())


# -- free steps and votes ------------------------------------------------------------------------


def test_a_single_plan_is_walked_to_its_end_without_any_llm_call():
    result = walk([gold_text()], always("A"))

    assert result.fake.calls == []
    assert result.trace.llm_decisions == 0
    assert result.trace.free_decisions == len(gold_lines()) + 1  # every step and [END]
    assert result.trace.reached_end
    assert rendered(result.env.executed_steps()) == list(gold_lines())


def test_steps_with_a_single_option_make_no_llm_call(scenario):
    assert len(scenario.fake.calls) == scenario.trace.llm_decisions == 2
    assert scenario.trace.free_decisions == 1 + 1 + 1 + 13  # dining, PutBack, basket, rest+END


def test_a_branch_costs_one_request_for_all_k_votes():
    result = walk([gold_text(), plan_text(BAD_PLAN)], always("A"))

    (call,) = result.fake.calls
    assert call.n == VOTES
    assert result.trace.llm_decisions == 1


def test_the_options_are_the_open_children_most_supported_first(scenario):
    first = scenario.fake.calls[0].prompt

    assert options_of(first) == [WALK_BASKET, GRAB_SOAP, WALK_WASHER]


def test_the_majority_of_the_votes_picks_the_branch():
    result = walk([gold_text(), plan_text(BAD_PLAN)], always("B", "A", "B"))

    assert options_of(result.fake.calls[0].prompt) == [WALK_BASKET, WALK_WASHER]
    assert result.trace.steps[1].step == WALK_WASHER


def test_the_decision_prompt_shows_the_task_the_steps_done_and_the_options_objects(scenario):
    prompt = scenario.fake.calls[0].prompt

    assert "Task: Wash clothes" in prompt
    assert "Steps done so far:\n1. [Walk] <dining_room> (201)\n" in prompt
    assert "You are in the dining_room (201), holding nothing." in prompt
    assert "soap (1002) is" in prompt
    assert "washing_machine (1001) is" in prompt
    assert "failed" not in prompt


def test_unparseable_votes_are_retried_once_then_the_most_supported_option_is_taken():
    result = walk([gold_text(), plan_text(BAD_PLAN)], always("I am not sure."))

    assert len(result.fake.calls) == 2
    assert (result.trace.fallbacks, result.trace.invalid_replies) == (1, 2 * VOTES)
    assert result.trace.steps[1].step == WALK_BASKET
    assert result.trace.reached_end


# -- failures and corrections --------------------------------------------------------------------


def test_a_failed_step_is_marked_failed_and_counted_as_a_correction(scenario):
    failed = [s for s in scenario.trace.steps if not s.success]

    assert [s.step for s in failed] == [GRAB_SOAP, PUT_SOAP_IN_WASHER]
    assert "is not close to <soap> (1002)" in failed[0].message
    assert "is not holding <soap> (1002)" in failed[1].message
    assert scenario.trace.corrections == 2
    assert scenario.status(WALK_DINING, GRAB_SOAP) == "failed"
    assert scenario.status(WALK_DINING, WALK_WASHER, PUT_SOAP_IN_WASHER) == "failed"


def test_the_choice_after_a_failure_is_a_correction_call_that_names_the_error(scenario):
    second = scenario.fake.calls[1].prompt

    assert (
        "Your last step failed: [Grab] <soap> (1002) (<character> (65) is not close to "
        "<soap> (1002)" in second
    )
    assert options_of(second) == [WALK_BASKET, WALK_WASHER]
    assert [c.phase for c in scenario.client.ledger.calls] == ["deciding", "correction"]


def test_a_failed_step_is_not_among_the_steps_done(scenario):
    second = scenario.fake.calls[1].prompt

    assert "Steps done so far:\n1. [Walk] <dining_room> (201)\nWhat you observe now:" in second


def test_an_exhausted_branch_climbs_to_its_ancestor_and_restores_its_state(scenario):
    ancestor = scenario.node(WALK_DINING)

    assert scenario.trace.backtracks == 1
    assert scenario.env.after_restore == [rendered(path_to(scenario.tree, ancestor))]
    assert scenario.env.after_restore == [[WALK_DINING]]
    assert scenario.status(WALK_DINING, WALK_WASHER) == "failed"


def test_after_backtracking_the_walk_finishes_on_another_plan(scenario):
    assert scenario.trace.reached_end
    assert scenario.trace.stop_reason == "end"
    assert rendered(scenario.env.executed_steps()) == list(gold_lines())
    assert [s.step for s in scenario.trace.steps[4:]] == list(gold_lines()[1:])


def test_nodes_on_the_successful_path_are_ok_and_unvisited_nodes_untried():
    result = walk([gold_text(), plan_text(BAD_PLAN)], always("A"))

    path = [result.node(*gold_lines()[: i + 1]) for i in range(len(gold_lines()))]
    assert {result.tree.nodes[n]["status"] for n in path} == {"ok"}
    assert result.status(WALK_DINING, WALK_WASHER) == "untried"


def test_max_corrections_zero_stops_at_the_first_failure():
    result = walk(scenario_plans(), scenario_policy(), max_corrections=0)

    assert result.trace.stop_reason == "correction_cap"
    assert result.trace.corrections == 0
    assert [s.step for s in result.trace.steps] == [WALK_DINING, GRAB_SOAP]
    assert not result.trace.reached_end


def test_max_corrections_one_allows_one_failure_and_stops_at_the_second():
    result = walk(scenario_plans(), scenario_policy(), max_corrections=1)

    assert result.trace.stop_reason == "correction_cap"
    assert result.trace.corrections == 1
    assert result.trace.steps[-1].step == PUT_SOAP_IN_WASHER
    assert not result.trace.steps[-1].success


def test_max_corrections_equal_to_the_failures_lets_the_walk_finish():
    result = walk(scenario_plans(), scenario_policy(), max_corrections=2)

    assert result.trace.stop_reason == "end"
    assert result.trace.corrections == 2


def test_a_tree_whose_every_plan_fails_ends_exhausted():
    result = walk([plan_text(BAD_PLAN), plan_text(BAD_PLAN_2)], always("A"))

    assert result.trace.stop_reason == "exhausted"
    assert result.trace.corrections == 2
    assert result.trace.backtracks == 0
    assert not result.trace.reached_end
    for steps in (BAD_PLAN[:1], BAD_PLAN[:2], BAD_PLAN, BAD_PLAN_2):
        assert result.status(*steps) == "failed"


def test_max_steps_caps_the_walk():
    result = walk([gold_text()], always("A"), max_steps=3)

    assert result.trace.stop_reason == "max_steps"
    assert len(result.trace.steps) == 3


def test_a_budget_spent_mid_walk_stops_it_with_reason_budget():
    result = walk(scenario_plans(), scenario_policy(), token_budget=1)

    assert len(result.fake.calls) == 1  # the first vote went through, the correction did not
    assert result.trace.stop_reason == "budget"
    assert result.trace.error is not None
    assert result.trace.error.startswith("token budget of 1 spent")
    assert [s.step for s in result.trace.steps] == [WALK_DINING, GRAB_SOAP]


def test_a_model_error_mid_walk_stops_it_with_reason_error():
    def unreachable(prompt: str) -> str:
        raise ConnectionError("connection refused")

    result = walk([gold_text(), plan_text(BAD_PLAN)], unreachable)

    assert result.trace.stop_reason == "error"
    assert result.trace.error == "cannot reach the model endpoint: connection refused"
    assert [s.step for s in result.trace.steps] == [WALK_DINING]
