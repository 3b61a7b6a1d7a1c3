"""The action tree: plans merged by shared prefix, counts, ordering, paths, JSON and DOT."""

from __future__ import annotations

import json

import pytest

from planner.tree import (
    ROOT,
    build_action_tree,
    children,
    open_children,
    path_to,
    prune,
    tree_from_json,
    tree_stats,
    tree_to_dot,
    tree_to_json,
)
from skills import END_STEP, ObjectRef, Step

DINING = ObjectRef("dining_room", 201)
WASHER = ObjectRef("washing_machine", 1001)
SOAP = ObjectRef("soap", 1002)

WALK_DINING = Step("Walk", (DINING,))
WALK_WASHER = Step("Walk", (WASHER,))
FIND_SOAP = Step("Find", (SOAP,))
GRAB_SOAP = Step("Grab", (SOAP,))
OPEN_WASHER = Step("Open", (WASHER,))
PUT_SOAP = Step("PutBack", (SOAP, WASHER))

# Plans 0 and 1 share two steps, plan 2 only the first.
PLANS = [
    [WALK_DINING, WALK_WASHER, OPEN_WASHER],
    [WALK_DINING, WALK_WASHER, FIND_SOAP, GRAB_SOAP, PUT_SOAP],
    [WALK_DINING, FIND_SOAP],
]


def node_of(tree, steps):
    """The node reached from the root by `steps`."""
    node = ROOT
    for step in steps:
        (node,) = [c for c in tree.successors(node) if tree.nodes[c]["step"] == step]
    return node


def test_plans_sharing_a_prefix_share_its_nodes():
    tree = build_action_tree(PLANS)

    assert [tree.nodes[c]["step"] for c in children(tree, ROOT)] == [WALK_DINING]
    walk = node_of(tree, [WALK_DINING])
    assert {tree.nodes[c]["step"] for c in children(tree, walk)} == {WALK_WASHER, FIND_SOAP}


def test_a_node_counts_and_names_the_plans_through_it():
    tree = build_action_tree(PLANS)

    assert tree.nodes[ROOT]["plans"] == [0, 1, 2]
    shared = node_of(tree, [WALK_DINING, WALK_WASHER])
    assert (tree.nodes[shared]["count"], tree.nodes[shared]["plans"]) == (2, [0, 1])
    own = node_of(tree, [WALK_DINING, FIND_SOAP])
    assert (tree.nodes[own]["count"], tree.nodes[own]["plans"]) == (1, [2])


def test_every_plan_ends_in_its_own_end_leaf_at_depth_len_plus_one():
    tree = build_action_tree(PLANS)

    leaves = [n for n in tree.nodes if tree.out_degree(n) == 0]
    assert [tree.nodes[n]["step"] for n in leaves] == [END_STEP] * 3
    assert sorted(tree.nodes[n]["depth"] for n in leaves) == sorted(len(p) + 1 for p in PLANS)
    assert tree_stats(tree) == {"nodes": 10, "distinct_plans": 3, "depth": 6}


def test_new_nodes_start_untried_with_no_tokens_and_the_root_is_ok():
    tree = build_action_tree(PLANS)

    assert tree.nodes[ROOT]["status"] == "ok"
    assert {tree.nodes[n]["status"] for n in tree.nodes if n != ROOT} == {"untried"}
    assert {tree.nodes[n]["tokens"] for n in tree.nodes} == {0}


def test_duplicate_plans_add_to_the_counts_instead_of_adding_nodes():
    plan = [WALK_DINING, FIND_SOAP]
    tree = build_action_tree([plan, plan, plan])

    assert tree_stats(tree) == {"nodes": 3, "distinct_plans": 1, "depth": 3}
    leaf = node_of(tree, [*plan, END_STEP])
    assert (tree.nodes[leaf]["count"], tree.nodes[leaf]["plans"]) == (3, [0, 1, 2])


def test_children_come_most_supported_first():
    tree = build_action_tree([[FIND_SOAP], [WALK_WASHER], [WALK_WASHER]])

    assert [tree.nodes[c]["step"] for c in children(tree, ROOT)] == [WALK_WASHER, FIND_SOAP]


def test_children_with_equal_support_come_in_the_order_of_their_first_plan():
    tree = build_action_tree([[FIND_SOAP], [WALK_WASHER], [OPEN_WASHER]])

    assert [tree.nodes[c]["step"] for c in children(tree, ROOT)] == [
        FIND_SOAP,
        WALK_WASHER,
        OPEN_WASHER,
    ]


def test_open_children_leave_out_failed_nodes():
    tree = build_action_tree([[FIND_SOAP], [WALK_WASHER], [WALK_WASHER]])
    first = children(tree, ROOT)[0]
    tree.nodes[first]["status"] = "failed"

    assert [tree.nodes[c]["step"] for c in open_children(tree, ROOT)] == [FIND_SOAP]
    assert children(tree, ROOT, status="failed") == [first]


def test_path_to_a_node_is_the_steps_from_the_root():
    tree = build_action_tree(PLANS)
    leaf = node_of(tree, [*PLANS[1], END_STEP])

    assert path_to(tree, leaf) == [*PLANS[1], END_STEP]
    assert path_to(tree, node_of(tree, [WALK_DINING])) == [WALK_DINING]
    assert path_to(tree, ROOT) == []


def test_prune_removes_a_node_and_everything_below_it():
    tree = build_action_tree(PLANS)
    shared = node_of(tree, [WALK_DINING, WALK_WASHER])

    prune(tree, shared)

    assert shared not in tree
    assert tree_stats(tree) == {"nodes": 3, "distinct_plans": 1, "depth": 3}
    assert path_to(tree, node_of(tree, [WALK_DINING, FIND_SOAP, END_STEP])) == [
        WALK_DINING,
        FIND_SOAP,
        END_STEP,
    ]


def test_the_root_cannot_be_pruned():
    with pytest.raises(ValueError, match="root"):
        prune(build_action_tree(PLANS), ROOT)


def test_an_empty_plan_list_gives_a_lone_root():
    tree = build_action_tree([])

    assert list(tree.nodes) == [ROOT]
    assert tree_stats(tree) == {"nodes": 0, "distinct_plans": 0, "depth": 0}


def test_json_round_trip_keeps_steps_attributes_and_edges():
    tree = build_action_tree(PLANS)
    tree.nodes[node_of(tree, [WALK_DINING])].update(status="ok", tokens=123)
    tree.nodes[node_of(tree, [WALK_DINING, FIND_SOAP])]["status"] = "failed"

    payload = json.loads(json.dumps(tree_to_json(tree)))
    again = tree_from_json(payload)

    assert dict(again.nodes(data=True)) == dict(tree.nodes(data=True))
    assert set(again.edges) == set(tree.edges)


def test_json_writes_steps_as_their_text():
    payload = tree_to_json(build_action_tree([[PUT_SOAP]]))

    assert [n["step"] for n in payload["nodes"]] == [
        None,
        "[PutBack] <soap> (1002) <washing_machine> (1001)",
        "[END]",
    ]
    assert payload["edges"] == [[0, 1], [1, 2]]


def test_dot_has_a_labelled_box_per_node_and_an_arrow_per_edge():
    tree = build_action_tree([[WALK_DINING, PUT_SOAP], [WALK_DINING]])
    tree.nodes[1]["status"] = "ok"

    dot = tree_to_dot(tree)

    assert dot.startswith("digraph action_tree {")
    assert dot.rstrip().endswith("}")
    times = "x"  # plan count, e.g. "x2"
    assert f'n0 [label="ROOT\\n{times}2"' in dot
    assert (
        f'n1 [label="[Walk] <dining_room> (201)\\n{times}2", style=filled, fillcolor=palegreen]'
        in dot
    )
    assert f"[PutBack] <soap> (1002) <washing_machine> (1001)\\n{times}1" in dot
    assert dot.count("[END]") == 2
    for u, v in tree.edges:
        assert f"n{u} -> n{v};" in dot


def test_text_outline_marks_branches_statuses_and_counts():
    from planner.tree import tree_to_text
    from skills import ObjectRef, Step

    walk = Step("Walk", (ObjectRef("dining_room", 201),))
    grab = Step("Grab", (ObjectRef("soap", 1002),))
    find = Step("Find", (ObjectRef("soap", 1002),))
    tree = build_action_tree([[walk, grab], [walk, find], [walk, grab]])
    tree.nodes[children(tree, children(tree, ROOT)[0])[1]]["status"] = "failed"

    assert tree_to_text(tree).splitlines() == [
        "[ ] [Walk] <dining_room> (201)  x3",
        "* [ ] [Grab] <soap> (1002)  x2",
        "  [ ] [END]  x2",
        "* [x] [Find] <soap> (1002)  x1",
        "  [ ] [END]  x1",
    ]
    assert tree_to_text(tree, max_lines=2).splitlines()[-1] == "... (3 more nodes)"
