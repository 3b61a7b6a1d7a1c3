"""Partial observations of a VirtualHome state, rendered as sentences.

The agent sees the objects in its room that are not hidden inside a closed container, plus
what it holds. Sentences follow the Tree-Planner paper: "You are in the kitchen, holding X in
your right hand", "fridge (305) is closed", "cup (1000) is inside fridge (305)".
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from environments.virtualhome.simulator import simulator

CHARACTER_ID = 65
_SHOWN_STATES = ("CLOSED", "OPEN", "ON", "OFF", "PLUGGED_IN", "PLUGGED_OUT", "SITTING", "LYING")


@dataclass(frozen=True)
class View:
    """What the agent perceives in one state."""

    room: Any | None
    held: tuple[tuple[str, Any], ...]  # (hand, node)
    close_ids: frozenset[int]
    visible_ids: frozenset[int]


def compute_view(state: Any, room_ids: Collection[int], character_id: int = CHARACTER_ID) -> View:
    """Room, held objects, nearby objects and visible objects of the character in `state`."""
    rel = simulator().environment.Relation
    closed = simulator().environment.State.CLOSED
    character = state.get_node(character_id)
    room = next((n for n in state.get_nodes_from(character, rel.INSIDE) if n.id in room_ids), None)
    held = tuple(
        (hand, node)
        for hand, relation in (("right", rel.HOLDS_RH), ("left", rel.HOLDS_LH))
        for node in state.get_nodes_from(character, relation)
    )
    close_ids = frozenset(state.get_node_ids_from(character_id, rel.CLOSE))
    children: dict[int, list[int]] = {}
    for node in state.get_nodes():
        for parent in state.get_node_ids_from(node.id, rel.INSIDE):
            children.setdefault(parent, []).append(node.id)
    visible: set[int] = set()
    frontier = [room.id] if room is not None else []
    while frontier:
        parent = frontier.pop()
        for child in children.get(parent, ()):
            if child in visible or child == character_id:
                continue
            visible.add(child)
            child_node = state.get_node(child)
            if child_node is not None and closed not in child_node.states:
                frontier.append(child)
    visible.update(node.id for _, node in held)
    return View(room, held, close_ids, frozenset(visible))


def _label(node: Any) -> str:
    return f"{node.class_name} ({node.id})"


def _states(node: Any) -> list[str]:
    names = {s.name for s in node.states}
    return [s.lower().replace("_", " ") for s in _SHOWN_STATES if s in names]


def describe_object(state: Any, node: Any, view: View) -> str:
    """One sentence about a visible object: its states, where it is, whether it is near."""
    rel = simulator().environment.Relation
    parts = []
    states = _states(node)
    if states:
        parts.append("is " + ", ".join(states))
    holders = [hand for hand, held in view.held if held.id == node.id]
    if holders:
        parts.append(f"is in your {holders[0]} hand")
    else:
        inside = [
            n
            for n in state.get_nodes_from(node, rel.INSIDE)
            if view.room is None or n.id != view.room.id
        ]
        on = list(state.get_nodes_from(node, rel.ON))
        if inside:
            parts.append("is inside " + ", ".join(_label(n) for n in sorted(inside, key=_id)))
        if on:
            parts.append("is on " + ", ".join(_label(n) for n in sorted(on, key=_id)[:3]))
        if node.id in view.close_ids:
            parts.append("is close to you")
    return f"{_label(node)} " + (", ".join(parts) if parts else "is here") + "."


def _id(node: Any) -> int:
    return int(node.id)


def render_observation(state: Any, view: View, focus: Collection[int] | None = None) -> str:
    """The agent's situation in sentences; with `focus`, only those objects are described."""
    if view.room is None:
        head = "You are nowhere in particular"
    else:
        head = f"You are in the {view.room.class_name} ({view.room.id})"
    if view.held:
        head += ", holding " + " and ".join(
            f"{_label(node)} in your {hand} hand" for hand, node in view.held
        )
    else:
        head += ", holding nothing"
    lines = [head + "."]
    if focus is None:
        close = [state.get_node(i) for i in sorted(view.close_ids) if i in view.visible_ids]
        if close:
            lines.append("Close to you: " + ", ".join(_label(n) for n in close if n) + ".")
        seen = [state.get_node(i) for i in sorted(view.visible_ids)]
        lines.append("You see: " + ", ".join(_label(n) for n in seen if n) + ".")
        lines.extend(describe_object(state, n, view) for n in seen if n is not None and _states(n))
        return "\n".join(lines)
    for node_id in focus:
        node = state.get_node(node_id)
        if node is None:
            lines.append(f"There is no object ({node_id}).")
        elif view.room is not None and node_id == view.room.id:
            lines.append(f"You are in {_label(node)}.")
        elif node_id in view.visible_ids:
            lines.append(describe_object(state, node, view))
        else:
            lines.append(f"{_label(node)} is not in view.")
    return "\n".join(lines)
