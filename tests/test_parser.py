"""Plan text -> typed steps: accepted spellings, canonical rendering, grounding and errors."""

from __future__ import annotations

import pytest

from skills import ObjectRef, PlanParseError, Step, parse_plan, parse_step, render_plan

WALK_TV = Step("Walk", (ObjectRef("television", 248),))
SCENE = {248: "television", 1001: "washing_machine", 1002: "soap", 7: "floor", 8: "floor"}


@pytest.mark.parametrize(
    "line",
    [
        "[Walk] <television> (248)",
        "[WALK] <television> (1.248)",
        "[walk] <television> (248)",
        "1. [walk] <television> (248)",
        "12) [Walk] <television> (248)",
        "Step 2: [Walk] <television> (248)",
        "step 2. [Walk] <television> (248)",
        "- [Walk] <television> (248)",
        "  [ Walk ]   <  television  >   ( 248 )  ",
        "[Walk] <television>(248)",
        "[Walk] <Television> (248).",
        "[Walk to] <television> (248)",
    ],
)
def test_accepted_spellings_parse_to_the_same_step(line, vocabulary):
    assert parse_step(line, vocabulary) == WALK_TV


def test_script_instance_prefix_is_dropped(vocabulary):
    assert parse_step("[Walk] <tv> (1.248)", vocabulary).args[0].id == 248


def test_object_names_are_normalised_to_scene_spelling(vocabulary):
    step = parse_step("[Walk] < Washing Machine > (1001)", vocabulary)
    assert step.args == (ObjectRef("washing_machine", 1001),)


def test_action_is_rendered_in_canonical_name(vocabulary):
    assert parse_step("[switch_on] <tv> (248)", vocabulary).action == "SwitchOn"
    assert parse_step("[TurnOn] <tv> (248)", vocabulary).action == "SwitchOn"


def test_two_argument_step(vocabulary):
    step = parse_step("[PutBack] <soap> (1002) <washing_machine> (1001)", vocabulary)
    assert step == Step("PutBack", (ObjectRef("soap", 1002), ObjectRef("washing_machine", 1001)))


def test_zero_arity_step(vocabulary):
    assert parse_step("[StandUp]", vocabulary) == Step("StandUp")


def test_argument_without_id_is_ungrounded(vocabulary):
    step = parse_step("[Walk] <kitchen>", vocabulary)
    assert step.args == (ObjectRef("kitchen", None),)
    assert not step.grounded


@pytest.mark.parametrize(
    "step",
    [
        WALK_TV,
        Step("PutBack", (ObjectRef("soap", 1002), ObjectRef("washing_machine", 1001))),
        Step("StandUp"),
        Step("Walk", (ObjectRef("kitchen"),)),
    ],
    ids=str,
)
def test_render_then_parse_round_trips(step, vocabulary):
    assert parse_step(step.render(), vocabulary) == step


def test_render_format():
    step = Step("PutBack", (ObjectRef("soap", 1002), ObjectRef("washing_machine", 1001)))
    assert step.render() == "[PutBack] <soap> (1002) <washing_machine> (1001)"
    assert str(Step("Walk", (ObjectRef("kitchen"),))) == "[Walk] <kitchen>"


def test_render_plan_round_trips_through_parse_plan(vocabulary):
    steps = [WALK_TV, Step("SwitchOn", (ObjectRef("television", 248),)), Step("StandUp")]
    assert parse_plan(render_plan(steps), vocabulary) == steps


def test_parse_plan_skips_blank_comment_and_prose_lines(vocabulary):
    text = "Here is my plan:\n\n# a comment [Walk]\n1. [Walk] <tv> (248)\n2. [StandUp]\nDone."
    assert [s.action for s in parse_plan(text, vocabulary)] == ["Walk", "StandUp"]


def test_parse_plan_accepts_a_list_of_lines(vocabulary):
    assert parse_plan(["[Walk] <television> (248)"], vocabulary) == [WALK_TV]


# -- grounding against the scene's objects -------------------------------------------------


def test_with_objects_the_id_wins_and_the_name_is_canonicalised(vocabulary):
    step = parse_step("[Walk] <tv> (248)", vocabulary, SCENE)
    assert step == WALK_TV


def test_with_objects_a_unique_name_is_grounded(vocabulary):
    assert parse_step("[Grab] <soap>", vocabulary, SCENE).args == (ObjectRef("soap", 1002),)


def test_with_objects_every_argument_is_grounded(vocabulary):
    step = parse_step("[PutBack] <soap> <washing_machine> (1001)", vocabulary, SCENE)
    assert step.grounded
    assert [a.id for a in step.args] == [1002, 1001]


# -- errors --------------------------------------------------------------------------------


def _error(line, vocabulary, objects=None) -> PlanParseError:
    with pytest.raises(PlanParseError) as info:
        parse_step(line, vocabulary, objects)
    return info.value


@pytest.mark.parametrize(
    "line",
    ["Walk to the kitchen", "<tv> [Walk]", "[Walk] <tv> (248) and then relax", "[Walk] <tv> (abc)"],
)
def test_unparseable_lines(line, vocabulary):
    assert _error(line, vocabulary).kind == "unparseable"


def test_unknown_action(vocabulary):
    error = _error("[Fly] <tv> (248)", vocabulary)
    assert error.kind == "unknown_action"
    assert "'Fly'" in str(error)


@pytest.mark.parametrize(
    "line", ["[Walk]", "[Walk] <tv> (1) <sofa> (2)", "[PutBack] <soap> (1002)", "[StandUp] <sofa>"]
)
def test_wrong_arity(line, vocabulary):
    assert _error(line, vocabulary).kind == "wrong_arity"


def test_wrong_arity_message_names_the_expected_count(vocabulary):
    assert "[PutBack] takes 2 object(s), got 1" in str(_error("[PutBack] <soap>", vocabulary))


def test_unknown_object_id(vocabulary):
    error = _error("[Walk] <tv> (999)", vocabulary, SCENE)
    assert error.kind == "unknown_object"
    assert "999" in error.reason


def test_unknown_object_name(vocabulary):
    error = _error("[Walk] <sofa>", vocabulary, SCENE)
    assert error.kind == "unknown_object"
    assert "<sofa>" in error.reason


def test_ambiguous_object_name_lists_the_candidate_ids(vocabulary):
    error = _error("[Walk] <floor>", vocabulary, SCENE)
    assert error.kind == "unknown_object"
    assert "ambiguous" in error.reason
    assert "[7, 8]" in error.reason


def test_parse_error_is_a_value_error(vocabulary):
    with pytest.raises(ValueError):
        parse_step("[Fly] <tv>", vocabulary)


def test_parse_plan_error_names_line_number_and_line(vocabulary):
    text = "1. [Walk] <tv> (248)\n\n3. [Fly] <tv> (248)\n4. [StandUp]"
    with pytest.raises(PlanParseError) as info:
        parse_plan(text, vocabulary)
    error = info.value
    assert error.kind == "unknown_action"
    assert error.line_no == 3
    assert error.line == "3. [Fly] <tv> (248)"
    assert str(error).startswith("line 3 '3. [Fly] <tv> (248)': unknown action: ")


def test_parse_plan_error_with_objects_names_the_line(vocabulary):
    with pytest.raises(PlanParseError) as info:
        parse_plan("[Walk] <tv> (248)\n[Grab] <floor>", vocabulary, SCENE)
    assert info.value.kind == "unknown_object"
    assert "line 2 '[Grab] <floor>'" in str(info.value)
