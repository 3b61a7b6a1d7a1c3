"""The VirtualHome scorer on small hand-built scenes: states, relations and ordered actions."""

from __future__ import annotations

import pytest

from environments.virtualhome.data import RelationGoal, StateGoal, TaskGoals, name_equivalence
from environments.virtualhome.scorer import matched_action_goals, score_state
from environments.virtualhome.simulator import build_graph, execute, initial_state

CHARACTER, KITCHEN, FRIDGE, CUP, TABLE = 65, 1, 2, 3, 4


def _node(node_id, class_name, category, properties=(), states=()):
    return {
        "id": node_id,
        "class_name": class_name,
        "category": category,
        "properties": list(properties),
        "states": list(states),
        "prefab_name": None,
        "bounding_box": None,
    }


def _edge(from_id, relation, to_id):
    return {"from_id": from_id, "relation_type": relation, "to_id": to_id}


@pytest.fixture(scope="module")
def kitchen():
    """A kitchen with the character, a closed fridge with a cup inside, and a table."""
    graph = {
        "nodes": [
            _node(CHARACTER, "character", "Characters"),
            _node(KITCHEN, "kitchen", "Rooms"),
            _node(FRIDGE, "fridge", "Appliances", ["CAN_OPEN", "CONTAINERS"], ["CLOSED"]),
            _node(CUP, "cup", "Props", ["GRABBABLE", "RECIPIENT"]),
            _node(TABLE, "table", "Furniture", ["SURFACES"]),
        ],
        "edges": [
            _edge(CHARACTER, "INSIDE", KITCHEN),
            _edge(FRIDGE, "INSIDE", KITCHEN),
            _edge(TABLE, "INSIDE", KITCHEN),
            _edge(CUP, "INSIDE", FRIDGE),
        ],
    }
    return initial_state(build_graph(graph), name_equivalence())


def _goals(states=(), relations=(), actions=()):
    return TaskGoals(tuple(states), tuple(relations), tuple(actions))


def test_all_goals_met(kitchen):
    goals = _goals([StateGoal(FRIDGE, "fridge", "CLOSED")], [RelationGoal(CUP, "INSIDE", FRIDGE)])
    report = score_state(goals, kitchen, [], executable=True)
    assert (report.conditions_met, report.conditions_total) == (2, 2)
    assert report.success
    assert report.gcr == 1.0
    assert report.unmet == []


def test_partly_met_goals_give_gcr_and_unmet_text(kitchen):
    goals = _goals(
        [StateGoal(FRIDGE, "fridge", "CLOSED"), StateGoal(FRIDGE, "fridge", "OPEN")],
        [RelationGoal(CUP, "INSIDE", FRIDGE), RelationGoal(CUP, "ON", TABLE)],
    )
    report = score_state(goals, kitchen, [], executable=True)
    assert (report.conditions_met, report.conditions_total) == (2, 4)
    assert not report.success
    assert report.gcr == 0.5
    assert report.unmet == ["fridge (2) is OPEN", "(3) ON (4)"]


def test_goals_on_missing_nodes_are_unmet(kitchen):
    goals = _goals([StateGoal(99, "tv", "ON")], [RelationGoal(CUP, "ON", 99)])
    report = score_state(goals, kitchen, [], executable=True)
    assert report.conditions_met == 0
    assert report.unmet == ["tv (99) is ON", "(3) ON (99)"]


def test_executable_is_reported_but_does_not_decide_success(kitchen):
    report = score_state(_goals([StateGoal(FRIDGE, "fridge", "CLOSED")]), kitchen, [], False)
    assert report.success
    assert not report.executable


def test_score_reflects_the_state_a_step_produced(kitchen):
    goals = _goals(relations=[RelationGoal(CHARACTER, "CLOSE", FRIDGE)])
    ok, walked, message = execute(kitchen, "WALK", [("fridge", FRIDGE)])
    assert ok, message
    assert score_state(goals, walked, ["WALK"], executable=True).success
    assert not score_state(goals, kitchen, [], executable=True).success  # kitchen is unchanged


def test_action_goals_count_towards_met_and_total(kitchen):
    goals = _goals([StateGoal(FRIDGE, "fridge", "CLOSED")], actions=["WALK", "DRINK"])
    report = score_state(goals, kitchen, ["WALK", "GRAB"], executable=True)
    assert (report.conditions_met, report.conditions_total) == (2, 3)
    assert report.unmet == ["action DRINK"]


def test_action_goal_alternatives_match_either_action(kitchen):
    goals = _goals(actions=["LOOKAT|WATCH"])
    assert score_state(goals, kitchen, ["WATCH"], executable=True).success
    assert score_state(goals, kitchen, ["LOOKAT"], executable=True).success
    assert not score_state(goals, kitchen, ["TOUCH"], executable=True).success


def test_out_of_order_actions_meet_only_the_ordered_prefix(kitchen):
    goals = _goals(actions=["GRAB", "DRINK"])
    report = score_state(goals, kitchen, ["DRINK", "GRAB"], executable=True)
    assert report.conditions_met == 1
    assert report.unmet == ["action DRINK"]


def test_zero_goals_count_as_met_when_executable(kitchen):
    report = score_state(_goals(), kitchen, [], executable=True)
    assert (report.conditions_met, report.conditions_total) == (0, 0)
    assert report.success
    assert report.gcr == 1.0


def test_zero_goals_count_as_unmet_when_not_executable(kitchen):
    report = score_state(_goals(), kitchen, [], executable=False)
    assert not report.success
    assert report.gcr == 0.0


# -- matched_action_goals ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("goals", "executed", "met"),
    [
        ([], ["WALK"], 0),
        (["DRINK"], [], 0),
        (["DRINK"], ["WALK", "GRAB", "DRINK"], 1),
        (["RINSE|WASH"], ["WASH"], 1),
        (["WASH|RINSE|SCRUB|WIPE"], ["WIPE"], 1),
        (["lookat | watch"], ["WATCH"], 1),  # goals are case- and space-insensitive
        (["GRAB", "DRINK"], ["GRAB", "WALK", "DRINK"], 2),
        (["GRAB", "DRINK"], ["DRINK", "GRAB"], 1),  # out of order: only GRAB
        (["GRAB", "DRINK"], ["DRINK"], 0),  # the first goal is never met, nor those after it
        (["TOUCH", "TOUCH"], ["TOUCH"], 1),  # a repeated goal needs a repeated action
        (["TOUCH", "TOUCH"], ["TOUCH", "WALK", "TOUCH"], 2),
        (["READ|LOOKAT", "LOOKAT"], ["LOOKAT"], 1),  # one action meets one goal only
        (["READ|LOOKAT", "LOOKAT"], ["LOOKAT", "LOOKAT"], 2),
    ],
)
def test_matched_action_goals(goals, executed, met):
    assert matched_action_goals(goals, executed) == met
