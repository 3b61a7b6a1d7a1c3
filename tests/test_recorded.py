"""The recorded LLM plans of virtualhome-eval: parsing, relevant objects, grounding, replay."""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest

from environments.virtualhome import VirtualHomeEnv
from environments.virtualhome.data import task_index
from environments.virtualhome.recorded import (
    RecordedOutputError,
    UnknownRecordedModelError,
    parse_recorded_output,
    recorded_models,
    recorded_output,
    recorded_plan,
    recorded_plans,
    recorded_task_ids,
    relevant_nodes,
    relevant_objects,
)
from planner.replay import replay_plan
from skills import ObjectRef, Step, TreePlannerError

GPT4O = "gpt-4o-2024-05-13"
GPT35 = "gpt-3.5-turbo-0125"
MIXTRAL = "mixtral-8x22b-instruct-v0.1"


def test_fifteen_models_each_with_every_task() -> None:
    models = recorded_models()
    assert len(models) == 15
    assert {GPT4O, GPT35, MIXTRAL, "claude-3-sonnet-2024022"} <= set(models)
    tasks = set(task_index())
    assert len(tasks) == 342
    missing = {m: sorted(tasks - set(recorded_task_ids(m))) for m in models}
    assert missing == {m: [] for m in models}


def test_repeated_actions_are_kept_in_order() -> None:
    # gpt-4o's "Wash clothes" plan walks four times: plain json.loads keeps one WALK.
    raw = recorded_output(GPT4O, "27_2")
    actions = [action for action, _ in parse_recorded_output(raw)]
    assert actions == [
        *("WALK", "OPEN", "WALK", "GRAB", "WALK", "PUTIN"),
        *("WALK", "GRAB", "WALK", "PUTIN", "CLOSE", "SWITCHON"),
    ]
    assert len(json.loads(raw.removeprefix("```json"))) == 6
    plan = recorded_plan(GPT4O, "27_2")
    assert [s.render() for s in plan.steps[:6]] == [
        "[Walk] <washing_machine> (1001)",
        "[Open] <washing_machine> (1001)",
        "[Walk] <soap> (1002)",
        "[Grab] <soap> (1002)",
        "[Walk] <washing_machine> (1001)",
        "[PutIn] <soap> (1002) <washing_machine> (1001)",
    ]


def test_fences_are_stripped() -> None:
    raw = recorded_output(GPT4O, "27_2")
    assert raw.startswith("```json")
    assert parse_recorded_output(raw)[0] == ("WALK", ["washing_machine"])
    fenced = '```json\n{"WALK": ["sink"]}\n```'
    assert parse_recorded_output(fenced) == [("WALK", ["sink"])]
    assert parse_recorded_output('```\n{"WALK": ["sink"]}```') == [("WALK", ["sink"])]


def test_single_quotes_become_double_quotes() -> None:
    raw = recorded_output(MIXTRAL, "27_2")
    assert raw.startswith("{'")
    with pytest.raises(json.JSONDecodeError):
        json.loads(raw)
    pairs = parse_recorded_output(raw)
    assert pairs and all(isinstance(name, str) for _, names in pairs for name in names)


def test_empty_output_is_a_parse_failure() -> None:
    empty = [t for t in recorded_task_ids(GPT35) if recorded_output(GPT35, t) == "{}"]
    assert len(empty) == 113
    with pytest.raises(RecordedOutputError) as info:
        parse_recorded_output("{}")
    assert info.value.reason == "empty"
    assert isinstance(info.value, TreePlannerError)
    plan = recorded_plan(GPT35, empty[0])
    assert plan.steps == () and not plan.parsed
    assert plan.parse_error_reason == "empty" and plan.parse_error


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"WALK": ["sink"],}', "invalid_json"),  # trailing comma (Cohere)
        ('[\n    {\n        "WALK": [\n            "toilet"\n        ]\n    }', "invalid_json"),
        ('[{"WALK": ["sink"]}]', "not_an_object"),
        ('{"PUTIN": [["plate", "dishwasher"]]}', "bad_arguments"),
        ('{"WALK": "sink"}', "bad_arguments"),
    ],
)
def test_malformed_outputs_raise_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(RecordedOutputError) as info:
        parse_recorded_output(text)
    assert info.value.reason == reason


def test_parse_failures_by_model_and_reason() -> None:
    failures: Counter[tuple[str, str]] = Counter()
    for model in recorded_models():
        for task_id in recorded_task_ids(model):
            try:
                parse_recorded_output(recorded_output(model, task_id))
            except RecordedOutputError as exc:
                failures[model, exc.reason] += 1
    assert failures == {
        (GPT35, "empty"): 114,  # 113 `{}` and one `{\n}`
        ("cohere-command-r", "invalid_json"): 7,  # 6 trailing commas, one `\_` escape
        ("cohere-command-r-plus", "bad_arguments"): 4,  # lists of [object, target] lists
        ("gemini-1.0-pro", "invalid_json"): 2,  # truncated
    }


def test_relevant_objects_come_from_the_graph_diff() -> None:
    # The objects the benchmark's prompt lists for "Wash clothes" (27_2).
    assert relevant_nodes("27_2") == (
        ObjectRef("bathroom", 1),
        ObjectRef("character", 65),
        ObjectRef("dining_room", 201),
        ObjectRef("basket_for_clothes", 1000),
        ObjectRef("washing_machine", 1001),
        ObjectRef("soap", 1002),
        ObjectRef("clothes_jacket", 1003),
    )
    assert relevant_objects("27_2")["washing_machine"] == 1001


@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_relevant_objects_match_the_benchmark() -> None:
    """The benchmark's own `MotionPlanner.get_relevant_nodes` (checked on all 342 tasks once)."""
    rng_state = random.getstate()  # the benchmark's modules seed the global RNG on import
    try:
        from virtualhome_eval.simulation.evolving_graph import utils
        from virtualhome_eval.simulation.evolving_graph.eval_utils import construct_planner
    finally:
        random.setstate(rng_state)
    from environments.virtualhome.data import package_root

    root = package_root() / "dataset/programs_processed_precond_nograb_morepreconds"
    tables = (
        utils.load_name_equivalence(),
        utils.load_properties_data(),
        utils.load_object_placing(),
    )
    for task_id in ("27_2", "417_1", "1003_2"):
        planner, *_ = construct_planner(*tables, script_id=task_id, dataset_root=str(root))
        theirs = planner.get_relevant_nodes()
        assert {(o.name, o.id) for o in relevant_nodes(task_id)} == theirs


def test_shared_class_name_maps_to_the_lowest_id() -> None:
    # 417_1 has two relevant shirts (1003, 1004) and two pairs of pants (1001, 1002).
    relevant = [o for o in relevant_nodes("417_1") if o.name == "clothes_shirt"]
    assert [o.id for o in relevant] == [1003, 1004]
    assert relevant_objects("417_1")["clothes_shirt"] == 1003
    assert relevant_objects("417_1")["clothes_pants"] == 1001
    plan = recorded_plan(GPT4O, "417_1")
    shirts = {a.id for s in plan.steps for a in s.args if a.name == "clothes_shirt"}
    assert shirts == {1003}
    assert recorded_plan(GPT4O, "417_1") == plan  # deterministic (and cached)


def test_names_outside_the_relevant_objects_fall_back_to_the_scene() -> None:
    plan = recorded_plan("cohere-command-r", "696_1")
    assert set(plan.outside_relevant) == {"bed", "floor"}
    assert Step("Lie", (ObjectRef("bed", 105),)) in plan.steps
    assert {"toothpaste", "corridor"} <= set(plan.unknown_objects)
    assert Step("Run", (ObjectRef("corridor"),)) in plan.steps
    assert plan.benchmark_hallucination


def test_unknown_objects_and_actions_fail_when_executed(env: VirtualHomeEnv) -> None:
    plan = recorded_plan("claude-3-opus-20240229", "875_1")
    assert plan.unknown_objects == ("eyes",)
    result = replay_plan(env, "875_1", plan.steps)
    assert result.failure is not None
    assert result.failure.message == "<eyes> is not an object of this scene"
    assert [s.success for s in result.steps] == [True, True, False]

    plan = recorded_plan("llama-3-8b-chat", "311_1")
    assert plan.unknown_actions == ("NEAR",)
    result = replay_plan(env, "311_1", plan.steps)
    assert result.failure is not None and result.failure.message.endswith("unknown action")


def test_recorded_plan_replays_open_loop(env: VirtualHomeEnv) -> None:
    plan = recorded_plan(GPT4O, "27_2")
    assert plan.tokens > 0 and plan.tokens_estimated
    result = replay_plan(env, "27_2", plan.steps)
    assert result.failure is None and result.report.executable
    assert len(result.steps) == len(plan.steps) == 12


def test_recorded_plans_of_a_task() -> None:
    plans = recorded_plans("27_2")
    assert [p.model for p in plans] == recorded_models()
    assert {p.task_id for p in plans} == {"27_2"}
    assert [p.model for p in recorded_plans("27_2", [GPT35])] == [GPT35]
    with pytest.raises(UnknownRecordedModelError):
        recorded_plans("27_2", ["gpt-5"])
