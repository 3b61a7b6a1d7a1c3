"""Deterministic dev/test split of an environment's tasks, stratified by category.

Within each category, tasks are sorted by id (numerically) and every third one (positions 0, 3,
6, ...) goes to `dev`, the rest to `test`: about a third for tuning, two thirds for reporting.
Tasks whose gold programs serve as few-shot examples are in neither split.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from importlib import resources

from environments import Task
from planner.errors import PlannerError


@cache
def example_task_ids(environment: str) -> frozenset[str]:
    """Ids of the tasks whose gold programs are the prompts' few-shot examples."""
    path = resources.files("prompts").joinpath(environment, "examples.json")
    if not path.is_file():
        return frozenset()
    return frozenset(json.loads(path.read_text("utf-8"))["tasks"])


def _order(task_id: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in task_id.split("_"))


def split_tasks(tasks: Sequence[Task], environment: str) -> dict[str, list[str]]:
    """`{"dev": [...], "test": [...]}` task ids."""
    excluded = example_task_ids(environment)
    by_category: dict[str, list[str]] = {}
    for task in tasks:
        if task.id not in excluded:
            by_category.setdefault(task.category, []).append(task.id)
    splits: dict[str, list[str]] = {"dev": [], "test": []}
    for ids in by_category.values():
        for position, task_id in enumerate(sorted(ids, key=_order)):
            splits["dev" if position % 3 == 0 else "test"].append(task_id)
    return splits


def select_tasks(spec: str, tasks: Sequence[Task], environment: str) -> list[str]:
    """Task ids for `all`, `dev`, `test`, `dev:N` (first N of dev), or `ID,ID,...`."""
    name, _, count = spec.partition(":")
    known = {t.id for t in tasks}
    if name == "all":
        chosen = [t.id for t in tasks]
    elif name in ("dev", "test"):
        chosen = split_tasks(tasks, environment)[name]
    else:
        chosen = list(dict.fromkeys(t.strip() for t in spec.split(",") if t.strip()))
        unknown = [t for t in chosen if t not in known]
        if unknown:
            raise PlannerError(f"unknown task(s): {', '.join(unknown[:5])}")
        return chosen
    if count:
        if not count.isdigit():
            raise PlannerError(f"bad task selection {spec!r}: expected e.g. dev:20")
        chosen = chosen[: int(count)]
    return chosen
