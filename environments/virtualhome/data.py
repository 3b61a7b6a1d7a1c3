"""Task data of VirtualHome's TrimmedTestScene1, read from the installed `virtualhome-eval`.

Only the task index is read eagerly (when first asked for); each task's scene graph (about
750 KB of JSON) is read when that task is reset.
"""

from __future__ import annotations

import importlib.util
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from environments.errors import SimulatorMissingError, UnknownTaskError
from environments.protocol import Task

INSTALL_HINT = "pip install --no-deps virtualhome-eval==0.1.1"
_PROGRAMS = "dataset/programs_processed_precond_nograb_morepreconds/executable_programs"
_GRAPHS = "dataset/programs_processed_precond_nograb_morepreconds/init_and_final_graphs"
_SCENE_DIR = "TrimmedTestScene1_graph/results_intentions_march-13-18"


@dataclass(frozen=True)
class StateGoal:
    """A node must be in a state, e.g. washing_machine (1001) is ON."""

    node_id: int
    class_name: str
    state: str

    def describe(self) -> str:
        return f"{self.class_name} ({self.node_id}) is {self.state}"


@dataclass(frozen=True)
class RelationGoal:
    """An edge must hold, e.g. soap (1002) ON washing_machine (1001)."""

    from_id: int
    relation: str
    to_id: int

    def describe(self) -> str:
        return f"({self.from_id}) {self.relation} ({self.to_id})"


@dataclass(frozen=True)
class TaskGoals:
    """All goal annotations of a task: for the scorer only, never for a planner."""

    states: tuple[StateGoal, ...]
    relations: tuple[RelationGoal, ...]
    actions: tuple[str, ...]  # in order; alternatives joined by `|`

    @property
    def total(self) -> int:
        return len(self.states) + len(self.relations) + len(self.actions)


@cache
def package_root() -> Path:
    """Directory of the installed `virtualhome_eval` package (without importing it)."""
    spec = importlib.util.find_spec("virtualhome_eval")
    if spec is None or not spec.submodule_search_locations:
        raise SimulatorMissingError(
            f"the VirtualHome simulator and data are not installed; run: {INSTALL_HINT}"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _read_json(relative: str) -> object:
    return json.loads((package_root() / relative).read_text("utf-8"))


@cache
def _goal_index() -> dict[str, tuple[str, dict]]:
    """task id -> (category, raw goal record)."""
    scenes = _read_json("resources/task_state_LTL_formula_accurate.json")
    assert isinstance(scenes, dict)
    index: dict[str, tuple[str, dict]] = {}
    for category, tasks in scenes["scene_1"].items():
        for task_id, record in tasks.items():
            index[task_id] = (category, record)
    return index


def program_path(task_id: str) -> Path:
    return package_root() / _PROGRAMS / _SCENE_DIR / f"file{task_id}.txt"


def graph_path(task_id: str) -> Path:
    return package_root() / _GRAPHS / _SCENE_DIR / f"file{task_id}.json"


@cache
def task_index() -> dict[str, Task]:
    """The 342 annotated tasks, by id, in the data's order."""
    titles = _read_json("resources/virtualhome/id2task.json")
    assert isinstance(titles, dict)
    goals = _goal_index()
    tasks: dict[str, Task] = {}
    for task_id, title in titles.items():
        lines = program_path(task_id).read_text("utf-8").splitlines()
        description = lines[1].strip() if len(lines) > 1 else ""
        category = goals[task_id][0] if task_id in goals else title
        tasks[task_id] = Task(id=task_id, title=title, description=description, category=category)
    return tasks


def get_task(task: Task | str) -> Task:
    """Look a task up by id (or pass a `Task` through); unknown ids raise `UnknownTaskError`."""
    task_id = task.id if isinstance(task, Task) else str(task)
    index = task_index()
    if task_id not in index:
        close = [t for t in index if t.split("_")[0] == task_id.split("_")[0]][:5]
        hint = (
            f"; did you mean {', '.join(close)}?" if close else "; `treeplanner tasks` lists them"
        )
        raise UnknownTaskError(f"unknown VirtualHome task {task_id!r}{hint}")
    return index[task_id]


def load_goals(task_id: str) -> TaskGoals:
    """The goal annotations of a task (scorer use only)."""
    record = _goal_index()[get_task(task_id).id][1]["vh_goal"]
    states, relations = [], []
    for goal in record["goal"]:
        if "state" in goal:
            states.append(StateGoal(int(goal["id"]), goal["class_name"], goal["state"].upper()))
        else:
            relations.append(
                RelationGoal(
                    int(goal["from_id"]), goal["relation_type"].upper(), int(goal["to_id"])
                )
            )
    actions = tuple(a.upper() for a in record["actions"])
    return TaskGoals(tuple(states), tuple(relations), actions)


_INSTANCE = re.compile(r"\(\s*\d+\s*\.\s*(\d+)\s*\)")


def load_gold_program(task_id: str) -> list[str]:
    """The annotated gold program's step lines, with `(1.248)` written as `(248)`."""
    text = program_path(get_task(task_id).id).read_text("utf-8")
    return [_INSTANCE.sub(r"(\1)", line.strip()) for line in text.splitlines() if "[" in line]


def load_init_graph(task_id: str) -> dict:
    """The task's initial scene graph as `{nodes, edges}`."""
    data = json.loads(graph_path(get_task(task_id).id).read_text("utf-8"))
    return data["init_graph"]


@cache
def name_equivalence() -> dict[str, list[str]]:
    """The simulator's class-name synonyms (e.g. tv -> television)."""
    data = _read_json("resources/class_name_equivalence.json")
    assert isinstance(data, dict)
    return data
