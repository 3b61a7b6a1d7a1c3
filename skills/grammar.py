"""GBNF grammars generated from a skill vocabulary, for constrained decoding (llama.cpp).

A plan grammar admits only steps of the vocabulary, with the right arity, naming the given
objects as `<name> (id)`, one per line; a choice grammar admits only the letters of the options.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from skills.step import ObjectRef
from skills.vocabulary import SkillVocabulary


def _literal(text: str) -> str:
    return json.dumps(text)  # a GBNF string literal uses JSON's escapes


def plan_grammar(
    vocabulary: SkillVocabulary, objects: Iterable[ObjectRef], max_steps: int = 30
) -> str:
    """GBNF for a plan: 1..max_steps lines `[Action] <name> (id) ...`, then a blank line."""
    object_alternatives = " | ".join(sorted({_literal(o.render()) for o in objects}))
    if not object_alternatives:
        raise ValueError("a plan grammar needs at least one object")
    step_rules = []
    for skill in vocabulary.skills:
        parts = [_literal(f"[{skill.name}]")] + ['" " object'] * skill.arity
        step_rules.append(" ".join(parts))
    return "\n".join(
        [
            f'root ::= step ("\\n" step){{0,{max(0, max_steps - 1)}}} "\\n\\n"',
            "step ::= " + " | ".join(f"( {rule} )" for rule in step_rules),
            f"object ::= {object_alternatives}",
        ]
    )


def choice_grammar(n_options: int) -> str:
    """GBNF for one option letter among the first `n_options` letters."""
    if not 1 <= n_options <= 26:
        raise ValueError("between 1 and 26 options")
    letters = " | ".join(_literal(chr(ord("A") + i)) for i in range(n_options))
    return f"root ::= {letters}"
