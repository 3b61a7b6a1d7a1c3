"""Phase 2: the action tree, a `networkx.DiGraph` trie over plans.

Node 0 is the root. Every other node is one distinct plan prefix; every plan ends in an `[END]`
leaf. Node attributes:

- `step`: the `Step` taken at the node (`None` at the root, `END_STEP` at leaves);
- `plans`: indices of the plans through the node; `count`: how many;
- `status`: `untried`, `ok` or `failed` (set while deciding);
- `tokens`: tokens spent deciding *at* this node (choosing among its children);
- `depth`: number of steps from the root.

>>> from skills import Step, ObjectRef
>>> walk = Step("Walk", (ObjectRef("bedroom", 67),))
>>> tree = build_action_tree([[walk], [walk]])
>>> [tree.nodes[c]["count"] for c in children(tree, ROOT)]
[2]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import networkx as nx

from skills import END_STEP, ObjectRef, Step

ROOT = 0
Status = Literal["untried", "ok", "failed"]


def build_action_tree(plans: Sequence[Sequence[Step]]) -> nx.DiGraph:
    """Merge plans by shared prefix; each plan ends in its own path's `[END]` leaf."""
    tree = nx.DiGraph()
    tree.add_node(ROOT, step=None, plans=[], count=0, status="ok", tokens=0, depth=0)
    index: dict[tuple[int, Step], int] = {}
    for plan_id, plan in enumerate(plans):
        node = ROOT
        _visit(tree, node, plan_id)
        for step in [*plan, END_STEP]:
            key = (node, step)
            child = index.get(key)
            if child is None:
                child = tree.number_of_nodes()
                tree.add_node(
                    child,
                    step=step,
                    plans=[],
                    count=0,
                    status="untried",
                    tokens=0,
                    depth=tree.nodes[node]["depth"] + 1,
                )
                tree.add_edge(node, child)
                index[key] = child
            _visit(tree, child, plan_id)
            node = child
    return tree


def _visit(tree: nx.DiGraph, node: int, plan_id: int) -> None:
    data = tree.nodes[node]
    data["plans"].append(plan_id)
    data["count"] += 1


def children(tree: nx.DiGraph, node: int, status: Status | None = None) -> list[int]:
    """Children of `node`, most supported first (ties: the earliest plan); optionally by status."""
    kids = [c for c in tree.successors(node) if status is None or tree.nodes[c]["status"] == status]
    return sorted(kids, key=lambda c: (-tree.nodes[c]["count"], tree.nodes[c]["plans"][0], c))


def open_children(tree: nx.DiGraph, node: int) -> list[int]:
    """Children not yet marked failed, most supported first."""
    return [c for c in children(tree, node) if tree.nodes[c]["status"] != "failed"]


def parent(tree: nx.DiGraph, node: int) -> int | None:
    """The parent of `node` (None at the root)."""
    return next(iter(tree.predecessors(node)), None)


def path_to(tree: nx.DiGraph, node: int) -> list[Step]:
    """The steps from the root down to `node` (the root itself has none)."""
    steps: list[Step] = []
    current: int | None = node
    while current is not None and current != ROOT:
        steps.append(tree.nodes[current]["step"])
        current = parent(tree, current)
    return steps[::-1]


def prune(tree: nx.DiGraph, node: int) -> nx.DiGraph:
    """Remove `node` and everything below it (in place); returns the tree."""
    if node == ROOT:
        raise ValueError("cannot prune the root")
    tree.remove_nodes_from([node, *nx.descendants(tree, node)])
    return tree


def tree_stats(tree: nx.DiGraph) -> dict[str, int]:
    """Size of the tree: nodes (without the root), leaves (= distinct plans) and depth."""
    leaves = [n for n in tree.nodes if tree.out_degree(n) == 0 and n != ROOT]
    depth = max((tree.nodes[n]["depth"] for n in tree.nodes), default=0)
    return {"nodes": tree.number_of_nodes() - 1, "distinct_plans": len(leaves), "depth": depth}


def tree_to_json(tree: nx.DiGraph) -> dict[str, Any]:
    """A JSON-ready dict: nodes with their attributes (steps as text) and edges."""
    nodes = []
    for node, data in tree.nodes(data=True):
        step = data["step"]
        nodes.append(
            {
                "id": node,
                "step": None if step is None else step.render(),
                "plans": list(data["plans"]),
                "count": data["count"],
                "status": data["status"],
                "tokens": data["tokens"],
                "depth": data["depth"],
            }
        )
    return {"nodes": nodes, "edges": [[u, v] for u, v in tree.edges]}


def tree_from_json(payload: dict[str, Any], parse: Any = None) -> nx.DiGraph:
    """Rebuild a tree from `tree_to_json` output; steps are parsed back with `parse(text)`."""
    from skills import load_vocabulary, parse_step

    if parse is None:
        vocabulary = load_vocabulary("virtualhome")

        def parse(text: str) -> Step:
            return END_STEP if text == END_STEP.render() else parse_step(text, vocabulary)

    tree = nx.DiGraph()
    for item in payload["nodes"]:
        attrs = {k: v for k, v in item.items() if k not in ("id", "step")}
        step = None if item["step"] is None else parse(item["step"])
        tree.add_node(item["id"], step=step, **attrs)
    tree.add_edges_from((u, v) for u, v in payload["edges"])
    return tree


_MARKS = {"ok": "+", "failed": "x", "untried": " "}


def tree_to_text(tree: nx.DiGraph, max_lines: int = 40) -> str:
    """An indented outline: `[+] [Walk] <x> (1)  x3` (+ ok, x failed, blank untried, x3 = plans).

    A chain of single children stays on one level; the children of a branch start with `*` one
    level deeper. Cut after `max_lines` lines.
    """
    lines: list[str] = []
    roots = children(tree, ROOT)
    stack = [(c, int(len(roots) > 1), len(roots) > 1) for c in reversed(roots)]
    hidden = 0
    while stack:
        node, indent, branch = stack.pop()
        if len(lines) >= max_lines:
            hidden += 1
        else:
            data = tree.nodes[node]
            lead = "  " * (indent - 1) + ("* " if branch else "  ") if indent else ""
            lines.append(
                f"{lead}[{_MARKS.get(data['status'], ' ')}] {data['step'].render()}"
                f"  x{data['count']}"
            )
        kids = children(tree, node)
        fork = len(kids) > 1
        stack.extend((c, indent + int(fork), fork) for c in reversed(kids))
    if hidden:
        lines.append(f"... ({hidden} more nodes)")
    return "\n".join(lines)


_COLOURS = {"ok": "palegreen", "failed": "lightpink", "untried": "white"}


def tree_to_dot(tree: nx.DiGraph) -> str:
    """Graphviz DOT text: one box per node with its step and plan count, coloured by status."""
    lines = ["digraph action_tree {", '  node [shape=box, fontname="monospace"];']
    for node, data in tree.nodes(data=True):
        label = "ROOT" if data["step"] is None else data["step"].render()
        label = f"{label}\\nx{data['count']}".replace('"', '\\"')
        colour = _COLOURS.get(data["status"], "white")
        lines.append(f'  n{node} [label="{label}", style=filled, fillcolor={colour}];')
    lines.extend(f"  n{u} -> n{v};" for u, v in tree.edges)
    lines.append("}")
    return "\n".join(lines)


def object_refs(steps: Sequence[Step]) -> list[ObjectRef]:
    """The distinct objects named by `steps`, in order."""
    return list(dict.fromkeys(arg for step in steps for arg in step.args))
