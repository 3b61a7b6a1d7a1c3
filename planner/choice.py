"""Choosing one option at a branch: the `Chooser` plug-in point and the voting chooser.

`VoteChooser` is the paper's self-consistency vote: k sampled answers, the majority letter wins,
ties go to the option more plans share (options come most supported first). A reply naming no
valid option is retried once; if still nothing, the most supported option is taken.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from planner.ledger import Phase
from planner.llm_client import LLMClient, SamplingParams

LETTERS = string.ascii_uppercase

_NAMED = re.compile(r"(?:answer|option|choice)\W{0,3}(?:is\W{0,3})?\(?([A-Za-z])\b", re.IGNORECASE)
_MARKED = re.compile(r"(?:^|[\s(\[])([A-Za-z])(?:[).:\]]|$)")
_STANDALONE = re.compile(r"\b([A-Z])\b(?!\s+[a-z])")


@dataclass(frozen=True)
class Choice:
    """Which option was chosen and what it took."""

    index: int
    method: str
    invalid_replies: int = 0
    fallback: bool = False
    votes: tuple[int, ...] = ()


@runtime_checkable
class Chooser(Protocol):
    """Picks one of `options` (rendered steps, most supported first) given a decision prompt.

    `template` names the prompt template the decider renders for this chooser.
    """

    name: str
    template: str

    def choose(
        self,
        prompt: str,
        options: Sequence[str],
        *,
        phase: Phase,
        node: int,
        seed: int,
        counts: Sequence[int] | None = None,
    ) -> Choice: ...


def option_list(options: Sequence[str]) -> str:
    """`A. [Walk] <kitchen> (205)` lines."""
    return "\n".join(f"{LETTERS[i]}. {text}" for i, text in enumerate(options))


def parse_choice(reply: str, options: Sequence[str]) -> int | None:
    """The option a reply names: by letter (`B`, `(B)`, `Answer: B`) or by the option's text."""
    text = reply.strip()
    # "Answer: B", then a marked letter ("B", "(B)", "b."), then a capital standing alone that is
    # not a word ("I choose B", "A good one is C").
    for pattern in (_NAMED, _MARKED, _STANDALONE):
        for match in pattern.finditer(text):
            index = LETTERS.index(match.group(1).upper())
            if index < len(options):
                return index
    for index, option in enumerate(options):
        if option and option.lower() in text.lower():
            return index
    return None


class VoteChooser:
    """Self-consistency voting over k sampled answers (works with any chat model)."""

    name = "vote"
    template = "decision"

    def __init__(self, client: LLMClient, votes: int = 20, temperature: float = 0.7) -> None:
        self.client = client
        self.votes = votes
        self.temperature = temperature

    def choose(
        self,
        prompt: str,
        options: Sequence[str],
        *,
        phase: Phase,
        node: int,
        seed: int,
        counts: Sequence[int] | None = None,
    ) -> Choice:
        from skills import choice_grammar

        extra = {}
        if getattr(self.client.llm, "supports_grammar", False):
            extra["grammar"] = choice_grammar(len(options))
        invalid = 0
        for attempt in range(2):
            params = SamplingParams(
                temperature=self.temperature,
                top_p=1.0,
                max_tokens=8,
                stop=["\n"],
                seed=seed + 1000 * attempt,
                extra=extra,
            )
            replies = self.client.sample(prompt, self.votes, params, phase=phase, node=node)
            picks = [parse_choice(r, options) for r in replies]
            valid = [p for p in picks if p is not None]
            invalid += len(picks) - len(valid)
            if valid:
                tally = Counter(valid)
                best = max(tally.values())
                index = min(i for i, c in tally.items() if c == best)  # tie: more plans
                return Choice(index, self.name, invalid, False, tuple(valid))
        return Choice(0, self.name, invalid, True, ())


class ScoreChooser:
    """Scores each option's text as a continuation of the prompt and takes the most likely.

    Needs a model exposing `score_continuations` (the embedded llama.cpp model); the score is
    the mean log-probability per token, so short options such as `[END]` are not favoured.
    With `prior_weight` > 0 the share of plans through each option is added as a prior:
    `score + prior_weight * log(count / total)`.
    """

    name = "score"
    template = "decision_score"

    def __init__(self, client: LLMClient, prior_weight: float = 0.0) -> None:
        self.client = client
        self.prior_weight = prior_weight

    def choose(
        self,
        prompt: str,
        options: Sequence[str],
        *,
        phase: Phase,
        node: int,
        seed: int,
        counts: Sequence[int] | None = None,
    ) -> Choice:
        scores = self.client.score(prompt, [f" {o}" for o in options], phase=phase, node=node)
        if self.prior_weight and counts is not None and sum(counts) > 0:
            total = sum(counts)
            scores = [
                s + self.prior_weight * math.log(max(c, 1) / total)
                for s, c in zip(scores, counts, strict=True)
            ]
        best = max(range(len(options)), key=lambda i: (scores[i], -i))
        return Choice(best, self.name)


def can_score(llm: object) -> bool:
    """Whether `llm` can score continuations (exposes logits)."""
    return bool(getattr(llm, "supports_scoring", False)) and hasattr(llm, "score_continuations")


def make_chooser(
    strategy: str,
    client: LLMClient,
    votes: int = 20,
    temperature: float = 0.7,
    prior_weight: float = 0.0,
) -> Chooser:
    """`vote`, `score`, or `auto` (score where the model exposes logits, else vote)."""
    from planner.errors import PlannerError

    if strategy == "auto":
        strategy = "score" if can_score(client.llm) else "vote"
    if strategy == "vote":
        return VoteChooser(client, votes=votes, temperature=temperature)
    if strategy == "score":
        if not can_score(client.llm):
            raise PlannerError("--choice score needs a model that exposes logits (the local model)")
        return ScoreChooser(client, prior_weight=prior_weight)
    raise PlannerError(f"unknown choice strategy {strategy!r}; use vote, score or auto")
