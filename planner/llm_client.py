"""The one place every LLM call goes through: sampling n answers, usage, budget, errors.

Any langchain-core `BaseChatModel` works. `n` samples are asked for in one request; a model that
returns fewer choices (llama.cpp's server ignores `n`, most local and fake models return one) is
remembered as not supporting `n`, and the rest are drawn in a loop of seeded requests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, LLMResult

from planner.errors import BudgetExhaustedError, LLMConnectionError, LLMError
from planner.ledger import LLMCall, Phase, TokenLedger, estimate_tokens
from planner.llm_cache import REQUEST_TOKEN_USAGE


@dataclass
class SamplingParams:
    """Decoding settings of one call."""

    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 256
    stop: list[str] | None = None
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class LLMClient:
    """Wraps a chat model with a ledger, an optional token budget and `n`-sampling."""

    llm: BaseChatModel
    ledger: TokenLedger = field(default_factory=TokenLedger)
    token_budget: int | None = None
    supports_n: bool | None = None  # None = not known yet; learned from the first n>1 request

    def sample(
        self,
        prompt: str | Sequence[BaseMessage],
        n: int,
        params: SamplingParams,
        *,
        phase: Phase,
        node: int | None = None,
    ) -> list[str]:
        """Return `n` sampled completions of `prompt`, recording usage in the ledger."""
        messages: list[BaseMessage] = (
            [HumanMessage(prompt)] if isinstance(prompt, str) else list(prompt)
        )
        texts: list[str] = []
        if n > 1 and self.supports_n is not False:
            texts = self._request(messages, n, params, params.seed, phase, node)
            if self.supports_n is None:
                self.supports_n = len(texts) >= n
        while len(texts) < n:
            more = self._request(messages, 1, params, params.seed + len(texts), phase, node)
            if not more:
                raise LLMError(f"{type(self.llm).__name__} returned no completion")
            texts += more
        return texts[:n]

    def score(
        self, prompt: str, continuations: Sequence[str], *, phase: Phase, node: int | None = None
    ) -> list[float]:
        """Log-likelihood scores of `continuations` after `prompt` (models with logits only).

        Usage: every evaluated token counts as a prompt token; nothing is generated.
        """
        self._check_budget()
        score = getattr(self.llm, "score_continuations", None)
        if score is None:
            raise LLMError(f"{type(self.llm).__name__} cannot score continuations")
        try:
            scores, prompt_tokens, evaluated = score(prompt, continuations)
        except LLMError:
            raise
        except Exception as exc:
            raise _translate(exc) from exc
        self.ledger.record(
            LLMCall(
                phase=phase,
                node=node,
                prompt_tokens=prompt_tokens + evaluated,
                completion_tokens=0,
                samples_requested=len(continuations),
                samples_returned=len(continuations),
            )
        )
        return list(scores)

    def _check_budget(self) -> None:
        if self.token_budget is not None and self.ledger.total_tokens >= self.token_budget:
            raise BudgetExhaustedError(
                f"token budget of {self.token_budget} spent ({self.ledger.total_tokens} used)"
            )

    def _request(
        self,
        messages: list[BaseMessage],
        n: int,
        params: SamplingParams,
        seed: int,
        phase: Phase,
        node: int | None,
    ) -> list[str]:
        self._check_budget()
        kwargs: dict[str, Any] = {
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_tokens,
            "seed": seed,
            **params.extra,
        }
        if n > 1:
            kwargs["n"] = n
        try:
            result = self.llm.generate([messages], stop=params.stop, **kwargs)
        except LLMError:
            raise
        except Exception as exc:
            raise _translate(exc) from exc
        generations = [g for g in result.generations[0] if isinstance(g, ChatGeneration)]
        texts = [_text_of(g) for g in generations]
        self.ledger.record(_usage(result, generations, messages, texts, phase, node, n))
        return texts


def _text_of(generation: ChatGeneration) -> str:
    content = generation.message.content
    if isinstance(content, str):
        return content
    return "".join(p if isinstance(p, str) else str(p.get("text", "")) for p in content)


def _usage(
    result: LLMResult,
    generations: list[ChatGeneration],
    messages: list[BaseMessage],
    texts: list[str],
    phase: Phase,
    node: int | None,
    requested: int,
) -> LLMCall:
    """Usage of one request: the provider's per-request figure, else per-message, else tiktoken."""
    cached = any(
        bool((g.generation_info or {}).get("cached"))
        or bool(g.message.response_metadata.get("cached"))
        for g in generations
    )
    common: dict[str, Any] = {
        "phase": phase,
        "node": node,
        "samples_requested": requested,
        "samples_returned": len(texts),
        "cached": cached,
    }
    token_usage = _request_usage(result, generations)
    if token_usage is not None:
        details = token_usage.get("prompt_tokens_details") or {}
        return LLMCall(
            prompt_tokens=int(token_usage["prompt_tokens"]),
            completion_tokens=int(token_usage["completion_tokens"]),
            cached_prompt_tokens=int(details.get("cached_tokens") or 0),
            **common,
        )
    metadata = [getattr(g.message, "usage_metadata", None) for g in generations]
    # (a cache hit without reported usage carries {"total_cost": 0}: langchain-core adds it)
    if metadata and all(m is not None and "input_tokens" in m for m in metadata):
        # One usage per generation (models that answer one sample per request).
        prompt = max(int(m["input_tokens"]) for m in metadata if m is not None)
        completion = sum(int(m["output_tokens"]) for m in metadata if m is not None)
        cache_read = sum(
            int((m.get("input_token_details") or {}).get("cache_read") or 0)
            for m in metadata
            if m is not None
        )
        return LLMCall(
            prompt_tokens=prompt,
            completion_tokens=completion,
            cached_prompt_tokens=cache_read,
            **common,
        )
    prompt_text = "\n".join(str(m.content) for m in messages)
    return LLMCall(
        prompt_tokens=estimate_tokens(prompt_text),
        completion_tokens=sum(estimate_tokens(t) for t in texts),
        estimated=True,
        **common,
    )


def _request_usage(result: LLMResult, generations: list[ChatGeneration]) -> dict[str, Any] | None:
    """The provider's usage of the whole request (e.g. OpenAI's, also for n>1), if known.

    From `llm_output`; on a cache hit (no `llm_output`) from the copy `planner.llm_cache` stores
    with the entry, or, for one generation, from the `token_usage` langchain-core merged into its
    `response_metadata`. Per-message `usage_metadata` cannot replace it: ChatOpenAI copies the
    whole request's usage onto every message.
    """
    found: list[Any] = [(result.llm_output or {}).get("token_usage")]
    if generations:
        found.append((generations[0].generation_info or {}).get(REQUEST_TOKEN_USAGE))
    if len(generations) == 1:
        found.append(generations[0].message.response_metadata.get("token_usage"))
    for usage in found:
        if isinstance(usage, dict) and "prompt_tokens" in usage and "completion_tokens" in usage:
            return usage
    return None


def _translate(exc: Exception) -> LLMError:
    """Turn a provider's exception into one readable line."""
    name = type(exc).__name__
    text = str(exc).splitlines()[0] if str(exc) else name
    if "Connection" in name or "connect" in text.lower() or "Timeout" in name:
        return LLMConnectionError(f"cannot reach the model endpoint: {text}")
    if "Authentication" in name or "401" in text:
        return LLMError(f"the model endpoint refused the API key: {text}")
    if "NotFound" in name or "404" in text:
        return LLMError(f"the model endpoint does not know this model: {text}")
    return LLMError(f"model call failed ({name}): {text}")
