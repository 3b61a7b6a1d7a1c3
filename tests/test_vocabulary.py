"""The VirtualHome skill vocabulary: 44 skills, found by any spelling, with arity and meaning."""

from __future__ import annotations

import pytest

from skills import Skill, TreePlannerError, action_key, load_vocabulary


def test_virtualhome_vocabulary_has_44_skills(vocabulary):
    assert vocabulary.name == "virtualhome"
    assert len(vocabulary.skills) == 44
    assert len(set(vocabulary.names())) == 44


def test_load_vocabulary_is_cached():
    assert load_vocabulary("virtualhome") is load_vocabulary("virtualhome")


def test_unknown_vocabulary_raises_a_treeplanner_error():
    with pytest.raises(TreePlannerError, match="unknown skill vocabulary 'nope'"):
        load_vocabulary("nope")


@pytest.mark.parametrize("spelling", ["SwitchOn", "SWITCHON", "switch_on", "Switch On", "TurnOn"])
def test_lookup_by_any_spelling(spelling, vocabulary):
    skill = vocabulary.get(spelling)
    assert skill is not None
    assert skill.name == "SwitchOn"
    assert skill.simulator_name == "SWITCHON"


def test_lookup_by_simulator_name_with_underscore(vocabulary):
    assert vocabulary.get("LOOKAT_SHORT").name == "LookAtShort"


def test_unknown_action_is_none_and_not_contained(vocabulary):
    assert vocabulary.get("Fly") is None
    assert "Fly" not in vocabulary
    assert 3 not in vocabulary
    assert "turn_off" in vocabulary


def test_every_canonical_name_finds_its_own_skill(vocabulary):
    """No alias shadows another skill's name."""
    for skill in vocabulary.skills:
        assert vocabulary.get(skill.name) is skill
        assert vocabulary.get(skill.simulator_name) is skill


def test_action_key_ignores_case_spaces_and_underscores():
    assert (
        action_key("Switch_On") == action_key("switch on") == action_key("SWITCHON") == "SWITCHON"
    )


@pytest.mark.parametrize(
    ("name", "arity"),
    [("Walk", 1), ("Grab", 1), ("PutBack", 2), ("PutIn", 2), ("Pour", 2), ("StandUp", 0)],
)
def test_arity(name, arity, vocabulary):
    assert vocabulary.get(name).arity == arity


def test_arities_are_zero_one_or_two(vocabulary):
    assert {s.arity for s in vocabulary.skills} == {0, 1, 2}


def test_signature_shows_the_argument_slots():
    assert Skill("PutBack", "PUTBACK", 2, "put").signature() == "[PutBack] <object> <target>"
    assert Skill("Walk", "WALK", 1, "walk").signature() == "[Walk] <object>"
    assert Skill("StandUp", "STANDUP", 0, "stand").signature() == "[StandUp]"


def test_describe_lists_every_skill_with_its_meaning(vocabulary):
    lines = vocabulary.describe().splitlines()
    assert len(lines) == len(vocabulary.skills)
    for line, skill in zip(lines, vocabulary.skills, strict=True):
        assert line == f"{skill.signature()}: {skill.meaning}"
        assert skill.meaning
