"""Our scorer for VirtualHome goals (the benchmark's own is wrong in four ways, see the docs).

Every node-state and relation goal is checked against the final state; the ordered action goals
(`A|B` = either) are matched, in order, against the executed steps, repeated actions included.
GCR = conditions met / conditions, over all three kinds; SR = all of them met (whether or not
the trajectory ended in a failed step: that is EXEC). A task without goals counts as met when
its trajectory is executable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from environments.protocol import GoalReport
from environments.virtualhome.data import TaskGoals
from environments.virtualhome.simulator import simulator


def matched_action_goals(goals: Sequence[str], executed_actions: Sequence[str]) -> int:
    """How many ordered action goals the executed actions meet, as a greedy subsequence."""
    met, position = 0, 0
    for goal in goals:
        options = {a.strip().upper() for a in goal.split("|")}
        while position < len(executed_actions) and executed_actions[position] not in options:
            position += 1
        if position == len(executed_actions):
            break
        met += 1
        position += 1
    return met


def score_state(
    goals: TaskGoals, state: Any, executed_actions: Sequence[str], executable: bool
) -> GoalReport:
    """Check `goals` against a simulator state and the actions executed to reach it."""
    env = simulator().environment
    unmet: list[str] = []
    met = 0
    for goal in goals.states:
        node = state.get_node(goal.node_id)
        if node is not None and env.State[goal.state] in node.states:
            met += 1
        else:
            unmet.append(goal.describe())
    for relation_goal in goals.relations:
        source, target = state.get_node(relation_goal.from_id), state.get_node(relation_goal.to_id)
        relation = env.Relation[relation_goal.relation]
        if source is not None and target is not None and state.has_edge(source, relation, target):
            met += 1
        else:
            unmet.append(relation_goal.describe())
    actions_met = matched_action_goals(goals.actions, executed_actions)
    met += actions_met
    unmet.extend(f"action {a}" for a in goals.actions[actions_met:])
    total = goals.total
    return GoalReport(
        conditions_met=met,
        conditions_total=total,
        success=met == total if total else executable,
        gcr=met / total if total else float(executable),
        executable=executable,
        unmet=unmet,
    )
