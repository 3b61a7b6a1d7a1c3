"""GBNF grammars generated from a skill vocabulary, for constrained decoding (llama.cpp).

A plan grammar admits only steps of the vocabulary, with the right arity, naming the given
objects as `<name> (id)`, one per line; a choice grammar admits only the letters of the options.
"""

from __future__ import annotations

from collections.abc import Iterable

from skills.step import ObjectRef
from skills.vocabulary import SkillVocabulary

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _literal(text: str) -> str:
    """A GBNF string literal: characters as written, quotes and control characters escaped."""
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _trie_rules(strings: list[str], prefix: str = "obj") -> list[str]:
    """GBNF rules matching exactly `strings`, factored as a trie on shared prefixes.

    llama.cpp tracks one parse stack per live alternative, so 300 flat alternatives sharing the
    prefix `<` make every sampled token expensive; a trie keeps only a few alive at a time.
    """
    rules: list[str] = []
    counter = [0]

    def build(group: list[str]) -> str:
        # group: non-empty suffixes (possibly including "") sharing the prefix already emitted
        alternatives = []
        if "" in group:
            alternatives.append('""')
        by_head: dict[str, list[str]] = {}
        for text in group:
            if text:
                by_head.setdefault(text[0], []).append(text)
        for members in by_head.values():
            common = members[0]
            for other in members[1:]:
                while not other.startswith(common):
                    common = common[:-1]
            rest = [m[len(common) :] for m in members]
            if rest == [""]:
                alternatives.append(_literal(common))
            else:
                counter[0] += 1
                name = f"{prefix}{counter[0]}"
                rules.append(f"{name} ::= {build(rest)}")
                alternatives.append(f"{_literal(common)} {name}")
        return " | ".join(alternatives)

    rules.insert(0, f"object ::= {build(sorted(set(strings)))}")
    return rules


def plan_grammar(
    vocabulary: SkillVocabulary, objects: Iterable[ObjectRef], max_steps: int = 30
) -> str:
    """GBNF for a plan: 1..max_steps lines `[Action] <name> (id) ...`, then a blank line."""
    names = [o.render() for o in objects]
    if not names:
        raise ValueError("a plan grammar needs at least one object")
    step_rules = []
    for skill in vocabulary.skills:
        parts = [_literal(f"[{skill.name}]")] + ['" " object'] * skill.arity
        step_rules.append(" ".join(parts))
    return "\n".join(
        [
            f'root ::= step ("\\n" step){{0,{max(0, max_steps - 1)}}} "\\n\\n"',
            "step ::= " + " | ".join(f"( {rule} )" for rule in step_rules),
            *_trie_rules(names),
        ]
    )


def step_grammar(vocabulary: SkillVocabulary, objects: Iterable[ObjectRef]) -> str:
    """GBNF for one step line, or `[END]` when the task is complete."""
    plan = plan_grammar(vocabulary, objects, max_steps=1).splitlines()
    return "\n".join(['root ::= ( step | "[END]" ) "\\n"', *plan[1:]])


def choice_grammar(n_options: int) -> str:
    """GBNF for one option letter among the first `n_options` letters."""
    if not 1 <= n_options <= 26:
        raise ValueError("between 1 and 26 options")
    letters = " | ".join(_literal(chr(ord("A") + i)) for i in range(n_options))
    return f"root ::= {letters}"
