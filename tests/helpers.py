"""Scenario helpers for the planner tests: task 27_2 (Wash clothes), plans, decision policies."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

from environments.virtualhome import VirtualHomeEnv
from planner.choice import LETTERS
from skills import Step, render_plan

TASK = "27_2"

WALK_DINING = "[Walk] <dining_room> (201)"
WALK_WASHER = "[Walk] <washing_machine> (1001)"
PUT_SOAP_IN_WASHER = "[PutBack] <soap> (1002) <washing_machine> (1001)"
GRAB_WASHER = "[Grab] <washing_machine> (1001)"
GRAB_SOAP = "[Grab] <soap> (1002)"
WALK_BASKET = "[Walk] <basket_for_clothes> (1000)"

BAD_PLAN = [WALK_DINING, WALK_WASHER, PUT_SOAP_IN_WASHER]
"""Shares the gold plan's first step; its third step fails: the soap is not held."""

BAD_PLAN_2 = [WALK_DINING, WALK_WASHER, GRAB_WASHER]
"""Goes the same way as BAD_PLAN; its third step fails: a washing machine is not grabbable."""

SOAP_TOO_SOON = [WALK_DINING, GRAB_SOAP]
"""Its second step fails: the character is not close to the soap."""


def scenario_plans() -> list[str]:
    """The samples of the main episode: the gold plan twice, then two plans that fail.

    The tree: ROOT -> Walk dining -> {Walk basket (gold, x2), Grab soap, Walk washer -> PutBack}.
    """
    return [gold_text(), gold_text(), plan_text(SOAP_TOO_SOON), plan_text(BAD_PLAN)]


def scenario_policy() -> Callable[[str], str]:
    """Decisions of the main episode: grab the soap first, then walk to the washing machine.

    The walk: Walk dining (free) -> Grab soap (voted, fails: correction 1) -> Walk washer (voted
    after the failure: a correction call) -> PutBack soap (free, fails: correction 2) -> the washer
    branch is exhausted: climb to Walk dining, restore its state (backtrack 1) -> the gold plan
    (free) to [END].
    """
    return prefer(GRAB_SOAP, WALK_WASHER)


@cache
def shared_env() -> VirtualHomeEnv:
    """One VirtualHome environment for every planner test (scenes are cached inside)."""
    return VirtualHomeEnv()


def fresh_env() -> VirtualHomeEnv:
    """The shared environment reset to task 27_2."""
    env = shared_env()
    env.reset(TASK)
    return env


@cache
def gold_lines() -> tuple[str, ...]:
    """The 14 annotated gold steps of 27_2 as text."""
    return tuple(s.render() for s in shared_env().gold_plan(TASK))


def plan_text(lines: Sequence[str]) -> str:
    """A sample as a model writes it: one step per line."""
    return "\n".join(lines)


def gold_text() -> str:
    return render_plan(shared_env().gold_plan(TASK))


def options_of(prompt: str) -> list[str]:
    """The option texts a decision prompt offers, in letter order."""
    tail = prompt.split("The options are:", 1)[1]
    return re.findall(r"^[A-Z]\. (.*)$", tail, flags=re.MULTILINE)


def letter_of(prompt: str, option: str) -> str:
    """The letter of `option` in a decision prompt."""
    return LETTERS[options_of(prompt).index(option)]


def prefer(*wanted: str) -> Callable[[str], str]:
    """A decision policy: the letter of the first wanted step on offer, else `A`."""

    def decide(prompt: str) -> str:
        offered = options_of(prompt)
        for step in wanted:
            if step in offered:
                return LETTERS[offered.index(step)]
        return "A"

    return decide


class RecordingEnv:
    """Wraps an environment; remembers the executed steps right after every `restore`."""

    def __init__(self, env: VirtualHomeEnv) -> None:
        self._env = env
        self.after_restore: list[list[str]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._env, name)

    def restore(self, snapshot: Any) -> None:
        self._env.restore(snapshot)
        self.after_restore.append(rendered(self._env.executed_steps()))


def rendered(steps: Sequence[Step]) -> list[str]:
    return [s.render() for s in steps]
