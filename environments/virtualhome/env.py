"""`VirtualHomeEnv`: the VirtualHome evolving-graph simulator behind the `Environment` protocol."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from environments.errors import NotResetError
from environments.protocol import GoalReport, StepOutcome, Task
from environments.virtualhome import data
from environments.virtualhome.observation import (
    CHARACTER_ID,
    View,
    compute_view,
    render_observation,
)
from environments.virtualhome.scorer import score_state
from environments.virtualhome.simulator import build_graph, execute, initial_state
from skills import ObjectRef, PlanParseError, Step, load_vocabulary, parse_step


@dataclass(frozen=True)
class VirtualHomeSnapshot:
    """A point of an episode: the persistent simulator state and the trajectory that led there."""

    task_id: str
    state: Any
    trajectory: tuple[Step, ...]
    last_failed: bool


@dataclass(frozen=True)
class _Scene:
    """A task's initial graph and the names of its objects (cached per task)."""

    graph: Any
    objects: tuple[ObjectRef, ...]
    rooms: tuple[ObjectRef, ...]


class VirtualHomeEnv:
    """VirtualHome TrimmedTestScene1 with its 342 annotated tasks.

    States are persistent, so `snapshot()` keeps references and costs nothing. Object ids in
    steps are scene node ids: `[Walk] <television> (248)`.
    """

    name = "virtualhome"

    def __init__(self, scene_cache_size: int = 8) -> None:
        self.vocabulary = load_vocabulary("virtualhome")
        self._scenes: OrderedDict[str, _Scene] = OrderedDict()
        self._scene_cache_size = scene_cache_size
        self._task: Task | None = None
        self._scene: _Scene | None = None
        self._state: Any = None
        self._trajectory: tuple[Step, ...] = ()
        self._last_failed = False
        self._view: tuple[Any, View] | None = None

    # -- tasks -------------------------------------------------------------------------------
    def tasks(self) -> list[Task]:
        """The 342 annotated tasks of TrimmedTestScene1."""
        return list(data.task_index().values())

    def task(self, task: Task | str) -> Task:
        """Look up a task by id; unknown ids raise `UnknownTaskError`."""
        return data.get_task(task)

    def gold_plan(self, task: Task | str) -> list[Step]:
        """The annotated gold program of a task as typed steps."""
        task_id = data.get_task(task).id
        return [
            parse_step(line, self.vocabulary, line_no=i)
            for i, line in enumerate(data.load_gold_program(task_id), start=1)
        ]

    def synonyms(self) -> dict[str, list[str]]:
        """Class-name synonyms the simulator knows (e.g. `tv` -> `television`), for grounding."""
        return data.name_equivalence()

    # -- episode -----------------------------------------------------------------------------
    def reset(self, task: Task | str) -> str:
        self._task = data.get_task(task)
        self._scene = self._load_scene(self._task.id)
        self._state = initial_state(self._scene.graph, data.name_equivalence())
        self._trajectory = ()
        self._last_failed = False
        return self.observe()

    def step(self, step: Step) -> StepOutcome:
        state = self._require_state()
        text = step.render()
        skill = self.vocabulary.get(step.action)
        if skill is None or len(step.args) != skill.arity:
            reason = "unknown action" if skill is None else f"takes {skill.arity} object(s)"
            return self._failed(text, f"{text}: {reason}")
        for arg in step.args:
            if arg.id is None or state.get_node(arg.id) is None or arg.id == CHARACTER_ID:
                return self._failed(text, f"{arg.render()} is not an object of this scene")
        # The simulator selects objects by id; record the step under the scene's names.
        canonical = Step(
            skill.name,
            tuple(ObjectRef(state.get_node(a.id).class_name, a.id) for a in step.args),
        )
        args = [(arg.name, int(arg.id)) for arg in canonical.args if arg.id is not None]
        ok, next_state, message = execute(state, skill.simulator_name, args, len(self._trajectory))
        if not ok:
            return self._failed(text, message)
        self._state = next_state
        self._trajectory = (*self._trajectory, canonical)
        self._last_failed = False
        return StepOutcome(step=text, success=True)

    def step_text(self, line: str) -> StepOutcome:
        """Parse and execute one step written as text; a bad line is a failed step."""
        try:
            step = parse_step(line, self.vocabulary, self._object_names())
        except PlanParseError as exc:
            return self._failed(line.strip(), str(exc))
        return self.step(step)

    def _failed(self, text: str, message: str) -> StepOutcome:
        self._last_failed = True
        return StepOutcome(step=text, success=False, message=message)

    def observe(self, focus: Iterable[ObjectRef | int] | None = None) -> str:
        state = self._require_state()
        ids: list[int] | None = None
        if focus is not None:
            refs = (f.id if isinstance(f, ObjectRef) else f for f in focus)
            ids = list(dict.fromkeys(i for i in refs if i is not None and i != CHARACTER_ID))
        return render_observation(state, self._current_view(), ids)

    def snapshot(self) -> VirtualHomeSnapshot:
        state = self._require_state()
        assert self._task is not None
        return VirtualHomeSnapshot(self._task.id, state, self._trajectory, self._last_failed)

    def restore(self, snapshot: VirtualHomeSnapshot) -> None:
        if self._task is None or snapshot.task_id != self._task.id:
            self.reset(snapshot.task_id)
        self._state = snapshot.state
        self._trajectory = snapshot.trajectory
        self._last_failed = snapshot.last_failed

    def objects(self) -> list[ObjectRef]:
        return list(self._require_scene().objects)

    def rooms(self) -> list[ObjectRef]:
        return list(self._require_scene().rooms)

    def location(self) -> ObjectRef | None:
        self._require_state()
        room = self._current_view().room
        return None if room is None else ObjectRef(room.class_name, room.id)

    def executed_steps(self) -> list[Step]:
        return list(self._trajectory)

    def score(self) -> GoalReport:
        state = self._require_state()
        assert self._task is not None
        goals = data.load_goals(self._task.id)
        actions = [self.vocabulary.get(s.action).simulator_name for s in self._trajectory]  # type: ignore[union-attr]
        return score_state(goals, state, actions, executable=not self._last_failed)

    # -- helpers -----------------------------------------------------------------------------
    def _require_state(self) -> Any:
        if self._state is None:
            raise NotResetError("call reset(task) before stepping, observing or scoring")
        return self._state

    def _require_scene(self) -> _Scene:
        if self._scene is None:
            raise NotResetError("call reset(task) before asking for objects")
        return self._scene

    def _object_names(self) -> dict[int, str]:
        return {o.id: o.name for o in self._require_scene().objects if o.id is not None}

    def _current_view(self) -> View:
        if self._view is None or self._view[0] is not self._state:
            room_ids = {r.id for r in self._require_scene().rooms if r.id is not None}
            self._view = (self._state, compute_view(self._state, room_ids))
        return self._view[1]

    def _load_scene(self, task_id: str) -> _Scene:
        scene = self._scenes.get(task_id)
        if scene is None:
            graph_dict = data.load_init_graph(task_id)
            graph = build_graph(graph_dict)
            nodes = sorted(graph_dict["nodes"], key=lambda n: n["id"])
            objects = tuple(
                ObjectRef(n["class_name"], n["id"]) for n in nodes if n["id"] != CHARACTER_ID
            )
            rooms = tuple(
                ObjectRef(n["class_name"], n["id"]) for n in nodes if n["category"] == "Rooms"
            )
            scene = _Scene(graph, objects, rooms)
            self._scenes[task_id] = scene
        self._scenes.move_to_end(task_id)
        while len(self._scenes) > self._scene_cache_size:
            self._scenes.popitem(last=False)
        return scene
