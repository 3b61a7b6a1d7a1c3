"""Skill vocabularies as data: which actions a plan may use, their arity and meaning."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources


def action_key(name: str) -> str:
    """Normalise an action name for lookup: `Switch_On`, `SWITCHON`, `switch on` -> `SWITCHON`."""
    return re.sub(r"[^A-Z]", "", name.upper())


@dataclass(frozen=True, slots=True)
class Skill:
    """One action of a vocabulary: canonical name, the simulator's name, arity and a gloss."""

    name: str
    simulator_name: str
    arity: int
    meaning: str
    aliases: tuple[str, ...] = ()

    def signature(self) -> str:
        """The skill as a prompt shows it, e.g. `[PutBack] <object> <target>`."""
        slots = ["<object>", "<target>"][: self.arity] if self.arity <= 2 else []
        return " ".join([f"[{self.name}]", *slots])


@dataclass(frozen=True)
class SkillVocabulary:
    """The skills a plan may be written in, looked up by any spelling of their names."""

    name: str
    description: str
    skills: tuple[Skill, ...]

    def __post_init__(self) -> None:
        index: dict[str, Skill] = {}
        for skill in self.skills:
            for spelling in (skill.name, skill.simulator_name, *skill.aliases):
                index.setdefault(action_key(spelling), skill)
        object.__setattr__(self, "_index", index)

    def get(self, action: str) -> Skill | None:
        """The skill an action name denotes, or None when the vocabulary has no such action."""
        index: dict[str, Skill] = getattr(self, "_index")  # noqa: B009 - set in __post_init__
        return index.get(action_key(action))

    def __contains__(self, action: object) -> bool:
        return isinstance(action, str) and self.get(action) is not None

    def names(self) -> list[str]:
        """Canonical action names in vocabulary order."""
        return [s.name for s in self.skills]

    def describe(self) -> str:
        """One line per skill, `[Name] <object> ...: meaning`, as prompts list them."""
        return "\n".join(f"{s.signature()}: {s.meaning}" for s in self.skills)


@cache
def load_vocabulary(name: str) -> SkillVocabulary:
    """Load a vocabulary shipped in `skills/data/<name>.json`."""
    try:
        text = resources.files("skills").joinpath("data", f"{name}.json").read_text("utf-8")
    except FileNotFoundError as exc:
        from skills.errors import TreePlannerError

        raise TreePlannerError(f"unknown skill vocabulary {name!r}") from exc
    data = json.loads(text)
    skills = tuple(
        Skill(
            name=s["name"],
            simulator_name=s["simulator_name"],
            arity=int(s["arity"]),
            meaning=s["meaning"],
            aliases=tuple(s.get("aliases", ())),
        )
        for s in data["skills"]
    )
    return SkillVocabulary(name=data["name"], description=data["description"], skills=skills)
