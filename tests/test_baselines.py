"""The baselines' control flow on 27_2 (Wash clothes) with a scripted model.

Each test scripts the model's replies in call order and checks what the baseline did with them:
the steps it executed, the corrections it counted, where it stopped, and the prompts it sent
(the fake records every request).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from fakes import ScriptedChatModel, always, route
from helpers import (
    GRAB_SOAP,
    SOAP_TOO_SOON,
    TASK,
    WALK_DINING,
    gold_lines,
    gold_text,
    plan_text,
    rendered,
    scenario_plans,
    scenario_policy,
    shared_env,
)

from planner.baselines import IterativePlanner
from planner.methods import make_method
from planner.plan_sources import make_plan_source
from planner.result import EpisodeResult
from planner.tree_planner import TreePlanner

FAIL_PLAN = plan_text(SOAP_TOO_SOON)
"""`[Walk] <dining_room> (201)` then `[Grab] <soap> (1002)`: fails, the soap is not close."""

NOT_CLOSE = "is not close to"
WALK_SOAP = "[Walk] <soap> (1002)"
RECORDED = "recorded:gpt-4o-2024-05-13"


def in_turn(*replies: str) -> Any:
    """A responder answering the successive requests with `replies`, the last one repeated."""
    served = [0]

    def respond(prompt: str) -> str:
        index = min(served[0], len(replies) - 1)
        served[0] += 1
        return replies[index]

    return respond


class TrackingEnv:
    """Wraps the shared environment; records the executed steps at every reset but the first."""

    def __init__(self) -> None:
        self._env = shared_env()
        self._started = False
        self.resets: list[list[str]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._env, name)

    def reset(self, task: Any) -> str:
        if self._started:  # what was executed before this reset
            self.resets.append(rendered(self._env.executed_steps()))
        self._started = True
        return self._env.reset(task)


@dataclass
class Run:
    result: EpisodeResult
    fake: ScriptedChatModel
    env: TrackingEnv
    final_steps: list[str]

    @property
    def prompts(self) -> list[str]:
        return [c.prompt for c in self.fake.calls]

    @property
    def phases(self) -> list[str]:
        """The ledger's phase of each request, in order (one ledger entry per fake request)."""
        return [c.phase for c in self.result.tokens.calls]

    @property
    def executed(self) -> list[str]:
        return [s.step for s in self.result.steps]


def run(method: str, replies: Sequence[str] | Any, **settings: Any) -> Run:
    respond = replies if callable(replies) else in_turn(*replies)
    fake = ScriptedChatModel(respond=respond)
    env = TrackingEnv()
    result = make_method(method, fake, **settings).run(env, TASK)  # type: ignore[arg-type]
    return Run(result, fake, env, rendered(env.executed_steps()))


def observation_after(*steps: str) -> str:
    """What the environment shows after executing `steps` from the start of 27_2."""
    from skills import parse_step

    env = shared_env()
    env.reset(TASK)
    for line in steps:
        env.step(parse_step(line, env.vocabulary))
    text = env.observe()
    env.reset(TASK)
    return text


# -- zero-shot ----------------------------------------------------------------------------------


def test_zero_shot_makes_one_greedy_call_and_stops_at_the_first_failure():
    episode = run("zero-shot", [FAIL_PLAN, plan_text(gold_lines())])
    result = episode.result

    assert len(episode.fake.calls) == 1 == result.llm_calls
    call = episode.fake.calls[0]
    assert call.kwargs["temperature"] == 0.0
    assert call.n is None  # one sample
    assert episode.executed == [WALK_DINING, GRAB_SOAP]
    assert NOT_CLOSE in result.steps[-1].message
    assert result.stop_reason == "failed"
    assert (result.executable, result.success) == (False, False)
    assert result.corrections == 0
    assert set(result.tokens.per_phase) == {"plan_sampling"}


def test_zero_shot_ignores_the_correction_cap():
    result = run("zero-shot", [FAIL_PLAN, gold_text()], max_corrections=10).result

    assert result.stop_reason == "failed"
    assert result.corrections == 0
    assert result.llm_calls == 1


def test_zero_shot_executes_a_good_plan_open_loop_to_the_end():
    episode = run("zero-shot", [gold_text()])

    assert episode.final_steps == list(gold_lines())
    assert episode.result.stop_reason == "end"
    assert (episode.result.success, episode.result.executable) == (True, True)


def test_zero_shot_without_a_usable_plan_stops_with_no_plan():
    result = run("zero-shot", ["I would rather not."]).result

    assert result.stop_reason == "no_plan"
    assert result.steps == []
    assert result.executable is False


# -- iterative ----------------------------------------------------------------------------------


def test_iterative_asks_once_per_step_and_ends_on_end():
    episode = run("iterative", [*gold_lines(), "[END]"])
    result = episode.result

    assert len(episode.fake.calls) == len(gold_lines()) + 1 == result.llm_calls
    assert all(c.kwargs["temperature"] == 0.0 for c in episode.fake.calls)
    assert episode.final_steps == list(gold_lines())
    assert result.stop_reason == "end"
    assert (result.success, result.executable) == (True, True)
    assert result.corrections == 0
    assert set(episode.phases) == {"deciding"}
    # Each prompt shows the steps executed so far.
    assert "(none yet)" in episode.prompts[0]
    assert f"1. {WALK_DINING}" in episode.prompts[1]
    assert f"14. {gold_lines()[-1]}" in episode.prompts[-1]


def test_iterative_puts_the_error_of_a_failed_step_in_the_next_prompt():
    episode = run("iterative", [WALK_DINING, GRAB_SOAP, WALK_SOAP, GRAB_SOAP, "[END]"])
    result = episode.result

    assert episode.executed == [WALK_DINING, GRAB_SOAP, WALK_SOAP, GRAB_SOAP]
    assert [s.success for s in result.steps] == [True, False, True, True]
    after_failure = episode.prompts[2]
    assert "Your last step failed" in after_failure
    assert NOT_CLOSE in after_failure
    assert GRAB_SOAP in after_failure.split("Your last step failed", 1)[1]
    assert "Your last step failed" not in episode.prompts[1]
    assert "Your last step failed" not in episode.prompts[3]  # the correction worked
    assert episode.phases == ["deciding", "deciding", "correction", "deciding", "deciding"]
    assert result.corrections == 1
    assert result.stop_reason == "end"
    assert (result.executable, result.success) == (True, False)


def test_iterative_phases_are_totalled_in_the_token_report():
    result = run("iterative", [WALK_DINING, GRAB_SOAP, WALK_SOAP, "[END]"]).result

    per_phase = result.tokens.per_phase
    assert {p: t.calls for p, t in per_phase.items()} == {"deciding": 3, "correction": 1}
    assert sum(t.total_tokens for t in per_phase.values()) == result.tokens.total_tokens


def test_iterative_ending_right_after_a_corrected_failure_is_executable():
    episode = run("iterative", [*gold_lines(), "[Grab] <washing_machine> (1001)", "[END]"])
    result = episode.result

    assert result.corrections == 1
    assert result.stop_reason == "end"
    assert episode.final_steps == list(gold_lines())
    assert result.success
    assert result.executable


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        ("I think we should wash the clothes", "is not a valid step"),
        ("[Walk] <qqqqqqq> (99999)", "names an object that is not in the house"),
    ],
)
def test_iterative_counts_an_unusable_reply_as_a_correction_with_feedback(reply, why):
    episode = run("iterative", [reply, WALK_DINING, "[END]"])
    result = episode.result

    assert result.corrections == 1
    assert episode.executed == [WALK_DINING]  # the bad reply executed nothing
    assert "Your last step failed" in episode.prompts[1]
    assert why in episode.prompts[1]
    assert episode.phases == ["deciding", "correction", "deciding"]
    assert result.stop_reason == "end"


def test_iterative_with_no_corrections_stops_at_the_first_failure():
    episode = run("iterative", [WALK_DINING, GRAB_SOAP, WALK_SOAP], max_corrections=0)
    result = episode.result

    assert len(episode.fake.calls) == 2
    assert episode.executed == [WALK_DINING, GRAB_SOAP]
    assert result.stop_reason == "failed"
    assert result.corrections == 0
    assert result.executable is False


def test_iterative_stops_when_a_failure_would_exceed_the_cap():
    episode = run("iterative", [WALK_DINING, GRAB_SOAP], max_corrections=2)
    result = episode.result

    assert len(episode.fake.calls) == 4  # walk, fail, fail (correction 1), fail (correction 2)
    assert result.corrections == 2
    assert result.stop_reason == "correction_cap"
    assert episode.phases == ["deciding", "deciding", "correction", "correction"]


def test_iterative_stops_after_max_steps():
    fake = ScriptedChatModel(respond=always(WALK_DINING))
    result = IterativePlanner(fake, max_steps=5).run(shared_env(), TASK)

    assert result.stop_reason == "max_steps"
    assert len(fake.calls) == 5
    assert result.executable is False


# -- local re-planning --------------------------------------------------------------------------


def test_local_replan_prompt_has_history_failed_step_error_and_observation():
    remainder = plan_text(gold_lines()[1:])
    episode = run("local-replan", [FAIL_PLAN, remainder])
    prompt = episode.prompts[1]

    assert len(episode.fake.calls) == 2
    assert "Steps done so far:\n1. [Walk] <dining_room> (201)\nThe next step failed:" in prompt
    failed_line = next(ln for ln in prompt.splitlines() if ln.startswith("The next step failed"))
    assert GRAB_SOAP in failed_line
    assert NOT_CLOSE in failed_line
    assert observation_after(WALK_DINING) in prompt
    assert "You are in the dining_room (201)" in prompt
    assert "Write the remaining steps" in prompt
    assert episode.fake.calls[1].kwargs["temperature"] == 0.0
    assert episode.phases == ["plan_sampling", "replanning"]


def test_local_replan_continues_from_the_current_state():
    episode = run("local-replan", [FAIL_PLAN, plan_text(gold_lines()[1:])])
    result = episode.result

    assert episode.env.resets == []  # no reset after the failure
    assert episode.final_steps == list(gold_lines())  # the walk is not repeated
    assert episode.executed == [WALK_DINING, GRAB_SOAP, *gold_lines()[1:]]
    assert result.corrections == 1
    assert result.stop_reason == "end"
    assert (result.success, result.executable) == (True, True)
    assert {p: t.calls for p, t in result.tokens.per_phase.items()} == {
        "plan_sampling": 1,
        "replanning": 1,
    }


def test_local_replan_history_grows_over_successive_replans():
    second = plan_text([WALK_SOAP, "[Grab] <washing_machine> (1001)"])
    episode = run("local-replan", [FAIL_PLAN, second, WALK_DINING])
    prompt = episode.prompts[2]

    assert "1. [Walk] <dining_room> (201)\n2. [Walk] <soap> (1002)\nThe next step failed" in prompt
    assert "[Grab] <washing_machine> (1001)" in prompt.split("The next step failed", 1)[1]
    assert episode.result.corrections == 2
    assert episode.result.stop_reason == "end"


@pytest.mark.parametrize(
    ("cap", "reason"), [(0, "failed"), (1, "correction_cap"), (3, "correction_cap")]
)
def test_local_replan_respects_the_cap(cap, reason):
    episode = run("local-replan", [FAIL_PLAN], max_corrections=cap)
    result = episode.result

    assert len(episode.fake.calls) == cap + 1
    assert result.corrections == cap
    assert result.stop_reason == reason
    assert result.executable is False
    assert episode.phases == ["plan_sampling"] + ["replanning"] * cap


def test_local_replan_with_an_unusable_replan_stops_with_no_plan():
    result = run("local-replan", [FAIL_PLAN, "no idea"]).result

    assert result.corrections == 1
    assert result.stop_reason == "no_plan"


# -- global re-planning -------------------------------------------------------------------------


def test_global_replan_prompt_has_the_failed_plan_and_the_error():
    episode = run("global-replan", [FAIL_PLAN, gold_text()])
    prompt = episode.prompts[1]

    assert f"A previous plan failed:\n{FAIL_PLAN}\n" in prompt
    failed_line = next(ln for ln in prompt.splitlines() if ln.startswith("Its step"))
    assert failed_line.startswith(f"Its step {GRAB_SOAP} failed: ")
    assert NOT_CLOSE in failed_line
    assert "from the start" in prompt
    assert "You are in the <bathroom> (1)." in prompt  # the state after the reset
    assert episode.fake.calls[1].kwargs["temperature"] == 0.0
    assert episode.phases == ["plan_sampling", "replanning"]


def test_global_replan_resets_the_environment_and_starts_over():
    episode = run("global-replan", [FAIL_PLAN, gold_text()])
    result = episode.result

    assert episode.env.resets == [[WALK_DINING]]  # one reset, after the failed plan
    assert episode.final_steps == list(gold_lines())  # restarted from the beginning
    assert episode.executed == [WALK_DINING, GRAB_SOAP, *gold_lines()]
    assert result.corrections == 1
    assert result.stop_reason == "end"
    assert (result.success, result.executable) == (True, True)
    assert {p: t.calls for p, t in result.tokens.per_phase.items()} == {
        "plan_sampling": 1,
        "replanning": 1,
    }


@pytest.mark.parametrize(("cap", "reason"), [(0, "failed"), (2, "correction_cap")])
def test_global_replan_respects_the_cap(cap, reason):
    episode = run("global-replan", [FAIL_PLAN], max_corrections=cap)
    result = episode.result

    assert len(episode.fake.calls) == cap + 1
    assert result.corrections == cap
    assert result.stop_reason == reason
    assert len(episode.env.resets) == cap
    assert episode.final_steps == [WALK_DINING]  # the last failed attempt is scored
    assert result.executable is False


# -- tree-planner-nc, phases, plan sources ------------------------------------------------------


def test_tree_planner_nc_is_tree_planner_without_corrections():
    method = make_method("tree-planner-nc", ScriptedChatModel(respond=always("A")))
    assert isinstance(method, TreePlanner)
    assert method.max_corrections == 0
    assert method.method == "tree-planner-nc"
    # ... whatever cap is asked for.
    method = make_method(
        "tree-planner-nc", ScriptedChatModel(respond=always("A")), max_corrections=7
    )
    assert isinstance(method, TreePlanner)
    assert method.max_corrections == 0


def test_tree_planner_nc_behaves_like_tree_planner_with_cap_zero():
    # The helpers' scenario: the model votes for [Grab] <soap> first, which fails.
    def episode(method: str, **settings: Any) -> EpisodeResult:
        fake = ScriptedChatModel(respond=route(always(*scenario_plans()), scenario_policy()))
        planner = make_method(method, fake, n_samples=4, votes=1, **settings)
        return planner.run(shared_env(), TASK)

    nc = episode("tree-planner-nc")
    zero = episode("tree-planner", max_corrections=0)
    full = episode("tree-planner")

    assert nc.method == "tree-planner-nc"
    assert [s.step for s in nc.steps] == [s.step for s in zero.steps] == [WALK_DINING, GRAB_SOAP]
    assert (nc.stop_reason, nc.corrections) == (zero.stop_reason, 0)
    assert {p: t.calls for p, t in nc.tokens.per_phase.items()} == {
        "plan_sampling": 1,
        "deciding": 1,
    }
    # With corrections the same episode recovers; the vote after the failure is a correction.
    assert (full.corrections, full.success) == (2, True)
    assert {p: t.calls for p, t in full.tokens.per_phase.items()} == {
        "plan_sampling": 1,
        "deciding": 1,
        "correction": 1,
    }


def test_the_first_plan_of_a_plan_source_costs_no_live_call():
    source = make_plan_source(RECORDED)
    fake = ScriptedChatModel(respond=always("[END]"))
    result = make_method("zero-shot", fake, plan_source=source).run(shared_env(), TASK)

    assert fake.calls == []
    assert result.llm_calls == 1  # the recorded plan, counted with estimated tokens
    assert set(result.tokens.per_phase) == {"plan_sampling"}
    assert result.tokens.estimated
    assert result.steps[0].step == "[Walk] <washing_machine> (1001)"
    assert result.stop_reason == "end"


@pytest.mark.parametrize("method", ["local-replan", "global-replan"])
def test_a_replanning_baseline_with_a_plan_source_asks_live_only_to_replan(method):
    # gpt-4o's recorded plan of 850_1 fails at its last step.
    source = make_plan_source(RECORDED)
    fake = ScriptedChatModel(respond=always("nothing useful"))
    result = make_method(method, fake, plan_source=source).run(shared_env(), "850_1")

    assert len(fake.calls) == 1
    assert "A previous plan failed" in fake.calls[0].prompt or (
        "Write the remaining steps" in fake.calls[0].prompt
    )
    assert [c.phase for c in result.tokens.calls] == ["plan_sampling", "replanning"]
    assert result.tokens.calls[0].estimated
    assert result.corrections == 1
    assert result.stop_reason == "no_plan"


def test_iterative_ignores_a_plan_source():
    fake = ScriptedChatModel(respond=in_turn(WALK_DINING, "[END]"))
    source = make_plan_source(RECORDED)
    result = make_method("iterative", fake, plan_source=source).run(shared_env(), TASK)

    assert len(fake.calls) == 2
    assert [s.step for s in result.steps] == [WALK_DINING]
