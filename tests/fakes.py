"""A scripted chat model for offline tests of everything that talks to an LLM.

`ScriptedChatModel` is a real langchain-core `BaseChatModel`, so it goes through the same
`generate()` path as ChatOpenAI. It

- answers with a function of the prompt text (`respond`); the function returns one text, or a
  list of texts that are handed out in turn to the successive samples of that prompt (so votes
  and plan samples can differ);
- honours `n` like OpenAI (`supports_n=True`: `n` generations per request) or ignores it like
  llama.cpp's server and most local models (`supports_n=False`: always one);
- applies `stop` sequences like a server would;
- reports made-up but deterministic usage: `prompt_tokens` = words of the prompt,
  `completion_tokens` = words of each answer + 1; either once per request in
  `llm_output["token_usage"]` (`usage="llm_output"`, like OpenAI), or on every AIMessage as
  `usage_metadata` (`usage="message"`), or not at all (`usage="none"`);
- records every request it answered in `calls` (prompt, kwargs, stop, answers, usage reported),
  so tests can count requests and sum exactly the tokens the "provider" reported; a request that
  raises (`error`, or a `respond` that raises) is not recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field, PrivateAttr

DECISION_MARK = "Which step should come next?"
"""Every decision prompt (prompts/virtualhome/decision.txt) asks this; plan prompts do not."""

Responder = Callable[[str], str | Sequence[str]]
UsageStyle = Literal["llm_output", "message", "none"]


def count_prompt_tokens(prompt: str) -> int:
    """The fake's token count of a prompt: its words."""
    return len(prompt.split())


def count_completion_tokens(text: str) -> int:
    """The fake's token count of one answer: its words plus one (an end-of-text token)."""
    return len(text.split()) + 1


@dataclass
class FakeCall:
    """One request the fake served."""

    prompt: str
    kwargs: dict[str, Any]
    stop: list[str] | None
    answers: list[str]
    prompt_tokens: int
    completion_tokens: int

    @property
    def n(self) -> int | None:
        """The `n` the request asked for (None when it did not send `n`)."""
        return self.kwargs.get("n")

    @property
    def seed(self) -> int | None:
        return self.kwargs.get("seed")

    @property
    def is_decision(self) -> bool:
        return DECISION_MARK in self.prompt


class ScriptedChatModel(BaseChatModel):
    """A chat model whose answers, `n` support and usage reporting a test chooses."""

    respond: Responder
    supports_n: bool = True
    usage: UsageStyle = "llm_output"
    error: Exception | None = None
    calls: list[FakeCall] = Field(default_factory=list)
    _served: dict[str, int] = PrivateAttr(default_factory=dict)

    @property
    def _llm_type(self) -> str:
        return "scripted-fake"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        prompt = "\n".join(str(m.content) for m in messages)
        if self.error is not None:
            raise self.error
        wanted = int(kwargs.get("n") or 1) if self.supports_n else 1
        answers = [_cut(self._answer(prompt), stop) for _ in range(wanted)]
        prompt_tokens = count_prompt_tokens(prompt)
        completions = [count_completion_tokens(a) for a in answers]
        self.calls.append(
            FakeCall(prompt, dict(kwargs), stop, answers, prompt_tokens, sum(completions))
        )
        generations = []
        for answer, completion in zip(answers, completions, strict=True):
            message = AIMessage(content=answer)
            if self.usage == "message":
                message = AIMessage(
                    content=answer,
                    usage_metadata={
                        "input_tokens": prompt_tokens,
                        "output_tokens": completion,
                        "total_tokens": prompt_tokens + completion,
                    },
                )
            generations.append(ChatGeneration(message=message))
        llm_output: dict[str, Any] | None = None
        if self.usage == "llm_output":
            llm_output = {
                "token_usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": sum(completions),
                    "total_tokens": prompt_tokens + sum(completions),
                }
            }
        return ChatResult(generations=generations, llm_output=llm_output)

    def _combine_llm_outputs(self, llm_outputs: list[dict[str, Any] | None], /) -> dict[str, Any]:
        """Like ChatOpenAI: keep the per-request `token_usage` (one prompt per `generate`)."""
        combined: dict[str, int] = {}
        for output in llm_outputs:
            for key, value in ((output or {}).get("token_usage") or {}).items():
                combined[key] = combined.get(key, 0) + value
        return {"token_usage": combined} if combined else {}

    def _answer(self, prompt: str) -> str:
        reply = self.respond(prompt)
        if isinstance(reply, str):
            return reply
        index = self._served.get(prompt, 0)
        self._served[prompt] = index + 1
        return reply[index % len(reply)]

    # -- what tests assert on ------------------------------------------------------------------
    @property
    def prompt_tokens(self) -> int:
        """Prompt tokens reported over every request served."""
        return sum(c.prompt_tokens for c in self.calls)

    @property
    def completion_tokens(self) -> int:
        """Completion tokens reported over every request served."""
        return sum(c.completion_tokens for c in self.calls)

    @property
    def decision_calls(self) -> list[FakeCall]:
        return [c for c in self.calls if c.is_decision]

    @property
    def plan_calls(self) -> list[FakeCall]:
        return [c for c in self.calls if not c.is_decision]


def _cut(text: str, stop: list[str] | None) -> str:
    """`text` up to the first stop sequence, as a server returns it."""
    for marker in stop or []:
        at = text.find(marker)
        if at >= 0:
            text = text[:at]
    return text


def route(plans: Responder, decide: Responder) -> Responder:
    """A responder answering plan prompts with `plans` and decision prompts with `decide`."""

    def respond(prompt: str) -> str | Sequence[str]:
        return decide(prompt) if DECISION_MARK in prompt else plans(prompt)

    return respond


def always(*texts: str) -> Responder:
    """A responder that ignores the prompt: `texts` in turn, then round again."""
    return lambda prompt: texts[0] if len(texts) == 1 else list(texts)
