"""`LLMClient`: n samples per request (or a seeded loop), usage in the ledger, budget, errors."""

from __future__ import annotations

import httpx2
import openai
import pytest
from fakes import ScriptedChatModel, always
from langchain_core.language_models import BaseChatModel, FakeListChatModel, GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatResult

from planner.errors import BudgetExhaustedError, LLMConnectionError, LLMError
from planner.ledger import estimate_tokens
from planner.llm_client import LLMClient, SamplingParams

PROMPT = "Which colour is the sky?"
PARAMS = SamplingParams(temperature=0.8, seed=10)
ONE_WORD_CALL_TOKENS = 5 + 2
"""What the fake reports for PROMPT answered with one word: 5 prompt + (1 + 1) completion."""


def test_a_model_that_supports_n_is_asked_once_for_all_samples():
    fake = ScriptedChatModel(respond=always("blue", "grey", "black"))
    client = LLMClient(fake)

    texts = client.sample(PROMPT, 3, PARAMS, phase="plan_sampling")

    assert texts == ["blue", "grey", "black"]
    assert len(fake.calls) == 1
    assert fake.calls[0].n == 3
    assert client.supports_n is True


def test_a_model_that_ignores_n_gets_one_n_request_then_seeded_single_requests():
    fake = ScriptedChatModel(respond=always("blue", "grey", "black"), supports_n=False)
    client = LLMClient(fake)

    texts = client.sample(PROMPT, 3, PARAMS, phase="plan_sampling")

    assert texts == ["blue", "grey", "black"]
    assert [c.n for c in fake.calls] == [3, None, None]
    assert [c.seed for c in fake.calls] == [10, 11, 12]


def test_a_model_found_to_ignore_n_is_not_sent_n_again():
    fake = ScriptedChatModel(respond=always("blue"), supports_n=False)
    client = LLMClient(fake)
    client.sample(PROMPT, 2, PARAMS, phase="plan_sampling")
    assert client.supports_n is False
    fake.calls.clear()

    client.sample(PROMPT, 2, PARAMS, phase="deciding")

    assert [c.n for c in fake.calls] == [None, None]
    assert [c.seed for c in fake.calls] == [10, 11]


def test_langchains_own_fake_model_which_ignores_n_still_yields_n_samples():
    fake = FakeListChatModel(responses=["A", "B", "C", "D"])
    client = LLMClient(fake)

    assert client.sample(PROMPT, 4, PARAMS, phase="deciding") == ["A", "B", "C", "D"]
    assert client.supports_n is False
    assert len(client.ledger.calls) == 4


def test_a_single_sample_never_sends_n():
    fake = ScriptedChatModel(respond=always("blue"))
    client = LLMClient(fake)

    client.sample(PROMPT, 1, PARAMS, phase="deciding")

    assert fake.calls[0].n is None
    assert client.supports_n is None  # nothing learned from a one-sample request


def test_sampling_params_are_sent_as_request_settings():
    fake = ScriptedChatModel(respond=always("blue"))
    params = SamplingParams(temperature=0.7, top_p=0.9, max_tokens=8, stop=["\n"], seed=3)

    LLMClient(fake).sample(PROMPT, 2, params, phase="deciding")

    call = fake.calls[0]
    assert call.kwargs == {"temperature": 0.7, "top_p": 0.9, "max_tokens": 8, "seed": 3, "n": 2}
    assert call.stop == ["\n"]


def test_usage_reported_per_request_in_llm_output_is_recorded_exactly():
    fake = ScriptedChatModel(respond=always("light blue", "grey"), usage="llm_output")
    client = LLMClient(fake)

    client.sample(PROMPT, 2, PARAMS, phase="plan_sampling")

    (call,) = client.ledger.calls
    assert (call.prompt_tokens, call.completion_tokens) == (5, 3 + 2)
    assert (call.prompt_tokens, call.completion_tokens) == (
        fake.prompt_tokens,
        fake.completion_tokens,
    )
    assert call.estimated is False
    assert (call.samples_requested, call.samples_returned) == (2, 2)


def test_usage_metadata_on_each_message_counts_the_prompt_once_and_every_completion():
    fake = ScriptedChatModel(respond=always("light blue", "grey"), usage="message")
    client = LLMClient(fake)

    client.sample(PROMPT, 2, PARAMS, phase="plan_sampling")

    (call,) = client.ledger.calls
    assert (call.prompt_tokens, call.completion_tokens) == (5, 3 + 2)
    assert call.estimated is False


def test_usage_metadata_of_langchains_generic_fake_is_recorded():
    reply = AIMessage(
        content="B", usage_metadata={"input_tokens": 40, "output_tokens": 2, "total_tokens": 42}
    )
    client = LLMClient(GenericFakeChatModel(messages=iter([reply])))

    client.sample(PROMPT, 1, PARAMS, phase="deciding")

    assert client.ledger.totals().prompt_tokens == 40
    assert client.ledger.totals().completion_tokens == 2
    assert client.ledger.totals().estimated is False


def test_without_reported_usage_tokens_are_a_tiktoken_estimate_flagged_estimated():
    fake = ScriptedChatModel(respond=always("light blue"), usage="none")
    client = LLMClient(fake)

    client.sample(PROMPT, 1, PARAMS, phase="deciding")

    (call,) = client.ledger.calls
    assert call.estimated is True
    assert call.prompt_tokens == estimate_tokens(PROMPT)
    assert call.completion_tokens == estimate_tokens("light blue")
    assert client.ledger.totals().estimated is True


def test_the_ledger_records_phase_and_node_of_each_request():
    client = LLMClient(ScriptedChatModel(respond=always("A")))

    client.sample(PROMPT, 1, PARAMS, phase="plan_sampling")
    client.sample(PROMPT, 3, PARAMS, phase="correction", node=7)

    assert [(c.phase, c.node) for c in client.ledger.calls] == [
        ("plan_sampling", None),
        ("correction", 7),
    ]
    assert set(client.ledger.by_phase()) == {"plan_sampling", "correction"}
    assert set(client.ledger.by_node()) == {7}


def test_a_spent_token_budget_raises_before_the_request_is_made():
    fake = ScriptedChatModel(respond=always("blue"))
    client = LLMClient(fake, token_budget=ONE_WORD_CALL_TOKENS)
    client.sample(PROMPT, 1, PARAMS, phase="deciding")
    assert len(fake.calls) == 1

    with pytest.raises(BudgetExhaustedError, match="token budget of 7 spent"):
        client.sample(PROMPT, 1, PARAMS, phase="deciding")

    assert len(fake.calls) == 1


def test_a_budget_not_yet_reached_lets_the_request_through():
    fake = ScriptedChatModel(respond=always("blue"))
    client = LLMClient(fake, token_budget=ONE_WORD_CALL_TOKENS + 1)

    client.sample(PROMPT, 1, PARAMS, phase="deciding")
    client.sample(PROMPT, 1, PARAMS, phase="deciding")

    assert len(fake.calls) == 2


def test_an_openai_connection_error_becomes_a_one_line_llm_connection_error():
    request = httpx2.Request("POST", "http://127.0.0.1:9/v1/chat/completions")
    fake = ScriptedChatModel(respond=always("A"), error=openai.APIConnectionError(request=request))

    with pytest.raises(LLMConnectionError) as raised:
        LLMClient(fake).sample(PROMPT, 1, PARAMS, phase="deciding")

    assert str(raised.value) == "cannot reach the model endpoint: Connection error."


def test_a_builtin_connection_error_keeps_only_the_first_line_of_its_message():
    error = ConnectionRefusedError("[Errno 111] Connection refused\n  at socket.connect\n  ...")
    fake = ScriptedChatModel(respond=always("A"), error=error)

    with pytest.raises(LLMConnectionError) as raised:
        LLMClient(fake).sample(PROMPT, 1, PARAMS, phase="deciding")

    assert str(raised.value) == "cannot reach the model endpoint: [Errno 111] Connection refused"
    assert "\n" not in str(raised.value)


def test_any_other_provider_error_becomes_an_llm_error_naming_its_type():
    fake = ScriptedChatModel(respond=always("A"), error=ValueError("bad payload\ndetails"))

    with pytest.raises(LLMError) as raised:
        LLMClient(fake).sample(PROMPT, 1, PARAMS, phase="deciding")

    assert not isinstance(raised.value, LLMConnectionError)
    assert str(raised.value) == "model call failed (ValueError): bad payload"


def test_a_failed_request_records_no_usage():
    fake = ScriptedChatModel(respond=always("A"), error=ConnectionError("down"))
    client = LLMClient(fake)

    with pytest.raises(LLMConnectionError):
        client.sample(PROMPT, 1, PARAMS, phase="deciding")

    assert client.ledger.calls == []


class AuthenticationError(Exception):
    """Named like openai's: the client reads the kind of failure from the exception's name."""


class NotFoundError(Exception):
    pass


def test_a_refused_api_key_is_reported_as_such():
    fake = ScriptedChatModel(respond=always("A"), error=AuthenticationError("Error code: 401"))

    with pytest.raises(LLMError) as raised:
        LLMClient(fake).sample(PROMPT, 1, PARAMS, phase="deciding")

    assert str(raised.value) == "the model endpoint refused the API key: Error code: 401"


def test_an_unknown_model_is_reported_as_such():
    fake = ScriptedChatModel(respond=always("A"), error=NotFoundError("Error code: 404"))

    with pytest.raises(LLMError) as raised:
        LLMClient(fake).sample(PROMPT, 1, PARAMS, phase="deciding")

    assert str(raised.value) == "the model endpoint does not know this model: Error code: 404"


class SilentChatModel(BaseChatModel):
    """Answers every request with no choice at all; gives up after 20 requests (a safety net)."""

    requests: int = 0

    @property
    def _llm_type(self) -> str:
        return "silent-fake"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        self.requests += 1
        if self.requests > 20:
            raise RuntimeError("asked 20 times for answers that never come")
        return ChatResult(generations=[])


def test_a_model_returning_no_choices_is_an_error_not_an_endless_loop():
    model = SilentChatModel()

    with pytest.raises(LLMError):
        LLMClient(model).sample(PROMPT, 2, PARAMS, phase="deciding")

    assert model.requests <= 2
