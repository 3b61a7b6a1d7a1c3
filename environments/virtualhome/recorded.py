"""Plans that 15 LLMs wrote for every VirtualHome task, recorded in `virtualhome-eval`.

The package ships `llm_response/action_sequence/<model>_outputs.json`: a list of
`{"identifier": <task id>, "llm_output": <text>}`, one per task, where the text is a JSON object
keyed by action name, e.g. `{"WALK": ["dining_room"], "GRAB": ["cup"], "WALK": [...]}`. The model
name is the file name without `_outputs.json` (so `claude-3-sonnet-2024022`, truncated as shipped).

Parsing (`parse_recorded_output`), deliberately no more forgiving than the benchmark:

1. a Markdown code fence around the text (```` ```json ... ``` ````) is removed;
2. every single quote becomes a double quote (the benchmark does this; without it several
   hundred outputs written with Python-style quotes would not parse);
3. the text must be a JSON object; its keys are read **in order and with duplicates kept**
   (plain `json.loads` keeps only the last of repeated keys, silently dropping steps);
4. every value must be a list of object names (strings).

Anything else raises `RecordedOutputError` with a `reason`: `empty` (`{}`), `invalid_json`
(trailing commas, truncated text, ...), `not_an_object` (e.g. a JSON array) or `bad_arguments`
(e.g. a list of lists). Nothing else is repaired.

Grounding names to scene ids (`recorded_plan`), the rule the recorded models were prompted
under: a task's *relevant objects* are the nodes whose record differs between the task's initial
and gold final graph (states, properties, ...; compared with sorted state and property lists)
plus both ends of every edge added or removed (`relevant_nodes`; identical to the benchmark's
`MotionPlanner.get_relevant_nodes` on all 342 tasks). Each written name is matched by exact class
name:

- among the relevant objects; when several share the class name, the **lowest id** wins (the
  benchmark keeps whichever its set iteration visits last, which is not a stated rule);
- otherwise among all objects of the task's initial scene, again the lowest id (the benchmark
  instead rejects the whole plan as a hallucination; `RecordedPlan.outside_relevant` lists the
  names grounded this way so its behaviour can be reproduced);
- otherwise the argument stays ungrounded (`ObjectRef(name, None)`): the plan is kept, and
  executing that step fails with "<name> is not an object of this scene".

Action names are looked up in the environment's skill vocabulary; an unknown action is kept as
written, and executing it fails with "unknown action" (as does a wrong number of arguments).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from environments.virtualhome import data
from skills import ObjectRef, Step, TreePlannerError, load_vocabulary

_OUTPUTS = "llm_response/action_sequence"
_SUFFIX = "_outputs.json"
_FENCE_OPEN = re.compile(r"^\s*```[A-Za-z]*[ \t]*\n?")
_FENCE_CLOSE = re.compile(r"\n?[ \t]*```\s*$")

RecordedErrorReason = Literal["empty", "invalid_json", "not_an_object", "bad_arguments"]


class RecordedOutputError(TreePlannerError, ValueError):
    """A recorded LLM output that is not a plan; `reason` says why, `detail` how."""

    def __init__(self, reason: RecordedErrorReason, detail: str) -> None:
        self.reason: RecordedErrorReason = reason
        self.detail = detail
        super().__init__(f"{reason.replace('_', ' ')}: {detail}")


class UnknownRecordedModelError(TreePlannerError, KeyError):
    """No recorded outputs for this model name (or none for this task)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown recorded model"


@dataclass(frozen=True)
class RecordedPlan:
    """One model's recorded plan for one task, grounded to scene ids (see the module docstring).

    `steps` is empty when the output does not parse; `parse_error` then says why and
    `parse_error_reason` is its `RecordedOutputError.reason`. `tokens` is the raw text's length
    in tokens, **estimated** with tiktoken cl100k_base (`planner.ledger.estimate_tokens`), not
    the model's own count (`tokens_estimated` is always True).
    """

    model: str
    task_id: str
    steps: tuple[Step, ...]
    raw: str
    parse_error: str | None
    parse_error_reason: RecordedErrorReason | None
    tokens: int
    tokens_estimated: bool = True
    outside_relevant: tuple[str, ...] = ()  # names grounded by the whole-scene fallback
    unknown_objects: tuple[str, ...] = ()  # names matching no object: their steps will fail
    unknown_actions: tuple[str, ...] = ()  # actions not in the vocabulary: their steps will fail

    @property
    def parsed(self) -> bool:
        return self.parse_error is None

    @property
    def benchmark_hallucination(self) -> bool:
        """True when the benchmark would reject this plan: an unknown action, or a name that is
        not a relevant object."""
        return bool(self.outside_relevant or self.unknown_objects or self.unknown_actions)


# -- files ------------------------------------------------------------------------------------
def _outputs_dir() -> Path:
    return data.package_root() / _OUTPUTS


@cache
def _model_names() -> tuple[str, ...]:
    return tuple(
        sorted(p.name[: -len(_SUFFIX)] for p in _outputs_dir().glob(f"*{_SUFFIX}") if p.is_file())
    )


def recorded_models() -> list[str]:
    """Names of the models with recorded outputs (15 in virtualhome-eval 0.1.1), sorted."""
    return list(_model_names())


@cache
def _outputs(model: str) -> dict[str, str]:
    """task id -> raw output text of one model (each file is read once)."""
    if model not in _model_names():
        raise UnknownRecordedModelError(
            f"no recorded outputs for model {model!r}; known: {', '.join(_model_names())}"
        )
    entries = json.loads((_outputs_dir() / f"{model}{_SUFFIX}").read_text("utf-8"))
    return {str(e["identifier"]): str(e["llm_output"]) for e in entries}


def recorded_task_ids(model: str) -> list[str]:
    """The task ids `model` has an output for, in the file's order."""
    return list(_outputs(model))


def recorded_output(model: str, task_id: str) -> str:
    """The raw text `model` wrote for `task_id`."""
    outputs = _outputs(model)
    if task_id not in outputs:
        raise UnknownRecordedModelError(f"model {model!r} has no recorded output for {task_id!r}")
    return outputs[task_id]


# -- parsing ----------------------------------------------------------------------------------
class _Pairs(list[Any]):
    """A JSON object read as its (key, value) pairs, in order, duplicates kept."""


def parse_recorded_output(text: str) -> list[tuple[str, list[str]]]:
    """`(action, [object names])` pairs of a recorded output, in order, duplicates kept.

    Removes a code fence, replaces single quotes by double quotes (as the benchmark does) and
    nothing more; raises `RecordedOutputError` otherwise (see the module docstring).

    >>> parse_recorded_output('```json\\n{"WALK": ["sink"], \\'WALK\\': ["tv"]}\\n```')
    [('WALK', ['sink']), ('WALK', ['tv'])]
    """
    body = _FENCE_CLOSE.sub("", _FENCE_OPEN.sub("", text, count=1), count=1)
    body = body.replace("'", '"')
    try:
        value: Any = json.loads(body, object_pairs_hook=_Pairs)
    except json.JSONDecodeError as exc:
        raise RecordedOutputError(
            "invalid_json", f"{exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    if not isinstance(value, _Pairs):
        raise RecordedOutputError("not_an_object", f"expected a JSON object, got {_kind(value)}")
    if not value:
        raise RecordedOutputError("empty", "the object has no actions")
    pairs: list[tuple[str, list[str]]] = []
    for action, args in value:
        if type(args) is not list or not all(isinstance(a, str) for a in args):
            raise RecordedOutputError(
                "bad_arguments", f"{action!r} takes a list of object names, got {args!r}"
            )
        pairs.append((action, list(args)))
    return pairs


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


# -- relevant objects -------------------------------------------------------------------------
@dataclass(frozen=True)
class _TaskObjects:
    relevant: tuple[ObjectRef, ...]  # sorted by id
    relevant_by_name: dict[str, int]  # lowest id per class name
    scene_by_name: dict[str, int]  # lowest id per class name, whole initial scene


def _node_key(node: dict[str, Any]) -> str:
    record = {**node, "properties": sorted(node["properties"]), "states": sorted(node["states"])}
    return json.dumps(record, sort_keys=True)


def _lowest_by_name(refs: list[ObjectRef]) -> dict[str, int]:
    by_name: dict[str, int] = {}
    for ref in sorted(refs, key=lambda r: r.id or 0):
        assert ref.id is not None
        by_name.setdefault(ref.name, ref.id)
    return by_name


@cache
def _task_objects(task_id: str) -> _TaskObjects:
    graphs = json.loads(data.graph_path(data.get_task(task_id).id).read_text("utf-8"))
    init, final = graphs["init_graph"], graphs["final_graph"]
    before = {n["id"]: n for n in init["nodes"]}
    after = {n["id"]: n for n in final["nodes"]}
    changed = {
        i
        for i in before.keys() | after.keys()
        if i not in before or i not in after or _node_key(before[i]) != _node_key(after[i])
    }

    def edges(graph: dict[str, Any]) -> set[tuple[int, str, int]]:
        return {(e["from_id"], e["relation_type"], e["to_id"]) for e in graph["edges"]}

    for from_id, _, to_id in edges(init) ^ edges(final):
        changed.update((from_id, to_id))
    names = {i: n["class_name"] for i, n in (*after.items(), *before.items())}
    relevant = [ObjectRef(names[i], i) for i in sorted(changed)]
    scene = [ObjectRef(n["class_name"], n["id"]) for n in init["nodes"]]
    return _TaskObjects(tuple(relevant), _lowest_by_name(relevant), _lowest_by_name(scene))


def relevant_nodes(task_id: str) -> tuple[ObjectRef, ...]:
    """Every relevant object of a task (graph diff, see the module docstring), sorted by id."""
    return _task_objects(task_id).relevant


def relevant_objects(task_id: str) -> dict[str, int]:
    """Class name -> id of a task's relevant objects; a shared class name maps to its lowest id."""
    return dict(_task_objects(task_id).relevant_by_name)


# -- plans ------------------------------------------------------------------------------------
@cache
def recorded_plan(model: str, task_id: str) -> RecordedPlan:
    """`model`'s recorded plan for `task_id`, parsed and grounded (see the module docstring)."""
    task_id = data.get_task(task_id).id
    raw = recorded_output(model, task_id)
    from planner.ledger import estimate_tokens  # here: environments must not import the planner

    tokens = estimate_tokens(raw)
    try:
        pairs = parse_recorded_output(raw)
    except RecordedOutputError as exc:
        return RecordedPlan(model, task_id, (), raw, str(exc), exc.reason, tokens)
    objects = _task_objects(task_id)
    vocabulary = load_vocabulary("virtualhome")
    outside: list[str] = []
    unknown_objects: list[str] = []
    unknown_actions: list[str] = []
    steps = []
    for action, names in pairs:
        skill = vocabulary.get(action)
        if skill is None:
            unknown_actions.append(action)
        args = []
        for name in names:
            node_id = objects.relevant_by_name.get(name)
            if node_id is None:
                node_id = objects.scene_by_name.get(name)
                (outside if node_id is not None else unknown_objects).append(name)
            args.append(ObjectRef(name, node_id))
        steps.append(Step(action if skill is None else skill.name, tuple(args)))
    return RecordedPlan(
        model,
        task_id,
        tuple(steps),
        raw,
        None,
        None,
        tokens,
        outside_relevant=tuple(dict.fromkeys(outside)),
        unknown_objects=tuple(dict.fromkeys(unknown_objects)),
        unknown_actions=tuple(dict.fromkeys(unknown_actions)),
    )


def recorded_plans(task_id: str, models: list[str] | None = None) -> list[RecordedPlan]:
    """The recorded plans for `task_id`, one per model (all models by default, in name order).

    Models without an output for the task are skipped; an unknown model name raises
    `UnknownRecordedModelError`.
    """
    task_id = data.get_task(task_id).id
    chosen = recorded_models() if models is None else models
    return [recorded_plan(model, task_id) for model in chosen if task_id in _outputs(model)]
