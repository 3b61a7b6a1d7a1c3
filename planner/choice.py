"""Choosing one option at a branch: the `Chooser` plug-in point and the voting chooser.

`VoteChooser` is the paper's self-consistency vote: k sampled answers, the majority letter wins,
ties go to the option more plans share (options come most supported first). A reply naming no
valid option is retried once; if still nothing, the most supported option is taken.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from planner.ledger import Phase

LETTERS = string.ascii_uppercase

_LEADING = re.compile(r"^\W*([A-Za-z])(?:[\s).:,\]]|$)")
_NAMED = re.compile(r"(?:answer|option|choice)\W{0,3}(?:is\W{0,3})?\(?([A-Za-z])\b", re.IGNORECASE)
_STANDALONE = re.compile(r"\b([A-Z])\b")


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
    """Picks one of `options` (rendered steps, most supported first) given a decision prompt."""

    name: str

    def choose(
        self, prompt: str, options: Sequence[str], *, phase: Phase, node: int, seed: int
    ) -> Choice: ...


def option_list(options: Sequence[str]) -> str:
    """`A. [Walk] <kitchen> (205)` lines."""
    return "\n".join(f"{LETTERS[i]}. {text}" for i, text in enumerate(options))


def parse_choice(reply: str, options: Sequence[str]) -> int | None:
    """The option a reply names: by letter (`B`, `(B)`, `Answer: B`) or by the option's text."""
    text = reply.strip()
    for pattern in (_LEADING, _NAMED, _STANDALONE):
        match = pattern.search(text)
        if match:
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

    def __init__(self, client: object, votes: int = 20, temperature: float = 0.7) -> None:
        from planner.llm_client import LLMClient

        assert isinstance(client, LLMClient)
        self.client = client
        self.votes = votes
        self.temperature = temperature

    def choose(
        self, prompt: str, options: Sequence[str], *, phase: Phase, node: int, seed: int
    ) -> Choice:
        from planner.llm_client import SamplingParams

        invalid = 0
        for attempt in range(2):
            params = SamplingParams(
                temperature=self.temperature,
                top_p=1.0,
                max_tokens=8,
                stop=["\n"],
                seed=seed + 1000 * attempt,
            )
            replies = self.client.sample(prompt, self.votes, params, phase=phase, node=node)
            picks = [parse_choice(r, options) for r in replies]
            valid = [p for p in picks if p is not None]
            invalid += len(picks) - len(valid)
            if valid:
                counts = Counter(valid)
                best = max(counts.values())
                index = min(i for i, c in counts.items() if c == best)  # tie: more plans
                return Choice(index, self.name, invalid, False, tuple(valid))
        return Choice(0, self.name, invalid, True, ())
