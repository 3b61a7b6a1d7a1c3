"""VirtualHomeEnv behind the Environment protocol, on the real task 27_2 (Wash clothes)."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest

from environments import (
    Environment,
    HasGoldPlans,
    NotResetError,
    Task,
    UnknownTaskError,
    check_env,
)
from environments.virtualhome import VirtualHomeEnv, data
from planner.replay import replay_plan
from skills import ObjectRef, Step, TreePlannerError

WASH_CLOTHES = "27_2"  # the `wash_clothes` fixture resets to this task
SOAP = ObjectRef("soap", 1002)
WASHING_MACHINE = ObjectRef("washing_machine", 1001)
TELEVISION = ObjectRef("television", 248)
DINING_ROOM = ObjectRef("dining_room", 201)


def _run(env, steps):
    for step in steps:
        outcome = env.step(step)
        assert outcome.success, outcome.message


def test_implements_the_protocols(env):
    assert isinstance(env, Environment)
    assert isinstance(env, HasGoldPlans)


def test_check_env_passes():
    check_env(VirtualHomeEnv(), WASH_CLOTHES)


# -- gold replay and failed steps ----------------------------------------------------------


def test_gold_plan_is_typed_steps(env):
    plan = env.gold_plan(WASH_CLOTHES)
    assert plan[0] == Step("Walk", (DINING_ROOM,))
    assert Step("PutBack", (SOAP, WASHING_MACHINE)) in plan
    assert plan[-1] == Step("SwitchOn", (WASHING_MACHINE,))


def test_gold_replay_succeeds(env):
    result = replay_plan(env, WASH_CLOTHES, env.gold_plan(WASH_CLOTHES))
    assert result.failure is None
    assert result.report.success
    assert result.report.gcr == 1.0
    assert result.report.executable
    assert result.report.unmet == []
    assert env.executed_steps() == env.gold_plan(WASH_CLOTHES)


def test_wrong_order_fails_with_the_simulator_message(env):
    plan = [Step("Grab", (SOAP,)), *env.gold_plan(WASH_CLOTHES)]
    result = replay_plan(env, WASH_CLOTHES, plan)
    assert len(result.steps) == 1
    assert result.failure is not None
    assert result.failure.step == "[Grab] <soap> (1002)"
    assert "is not close to" in result.failure.message
    assert not result.report.success
    assert not result.report.executable
    assert env.executed_steps() == []


def test_a_failed_step_leaves_the_state_unchanged(wash_clothes):
    before = wash_clothes.observe()
    assert not wash_clothes.step(Step("Grab", (SOAP,))).success
    assert wash_clothes.observe() == before


def test_a_later_success_makes_the_trajectory_executable_again(wash_clothes):
    assert not wash_clothes.step(Step("Grab", (SOAP,))).success
    assert not wash_clothes.score().executable
    _run(wash_clothes, [Step("Walk", (DINING_ROOM,))])
    assert wash_clothes.score().executable


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (
            Step("Walk", (ObjectRef("soap", 99999),)),
            "<soap> (99999) is not an object of this scene",
        ),
        (Step("Walk", (ObjectRef("soap"),)), "<soap> is not an object of this scene"),
        (Step("Walk", (ObjectRef("character", 65),)), "is not an object of this scene"),
        (Step("Fly", (SOAP,)), "unknown action"),
        (Step("Walk"), "takes 1 object(s)"),
    ],
    ids=["unknown id", "ungrounded", "the agent itself", "unknown action", "wrong arity"],
)
def test_bad_steps_are_failed_outcomes_not_exceptions(wash_clothes, step, message):
    outcome = wash_clothes.step(step)
    assert not outcome.success
    assert message in outcome.message
    assert wash_clothes.executed_steps() == []


def test_step_text_grounds_names_by_id(wash_clothes):
    outcome = wash_clothes.step_text("1. [walk] <washer> (1.1001)")
    assert outcome.success
    assert wash_clothes.executed_steps() == [Step("Walk", (WASHING_MACHINE,))]


def test_step_text_turns_a_bad_line_into_a_failed_step(wash_clothes):
    outcome = wash_clothes.step_text("[Walk] <unicorn>")
    assert not outcome.success
    assert "unknown object" in outcome.message
    assert not wash_clothes.score().executable


def test_using_the_env_before_reset_raises_not_reset():
    fresh = VirtualHomeEnv()
    with pytest.raises(NotResetError):
        fresh.observe()
    with pytest.raises(NotResetError):
        fresh.step(Step("Walk", (DINING_ROOM,)))
    with pytest.raises(NotResetError):
        fresh.objects()


# -- snapshot / restore --------------------------------------------------------------------


def _view(env):
    return env.observe(), env.executed_steps(), env.score()


def test_restore_after_a_failed_branch(wash_clothes):
    _run(wash_clothes, wash_clothes.gold_plan(WASH_CLOTHES)[:3])
    snapshot, before = wash_clothes.snapshot(), _view(wash_clothes)
    outcome = wash_clothes.step(Step("Grab", (TELEVISION,)))
    assert not outcome.success
    assert "is not grabbable" in outcome.message
    wash_clothes.restore(snapshot)
    assert _view(wash_clothes) == before
    assert wash_clothes.score().executable


def test_restore_after_successful_steps_on_a_branch(wash_clothes):
    plan = wash_clothes.gold_plan(WASH_CLOTHES)
    _run(wash_clothes, plan[:3])
    snapshot, before = wash_clothes.snapshot(), _view(wash_clothes)
    _run(wash_clothes, plan[3:])
    assert wash_clothes.score().success
    wash_clothes.restore(snapshot)
    assert _view(wash_clothes) == before
    assert not wash_clothes.score().success


def test_snapshots_of_two_branches_stay_independent(wash_clothes):
    root = wash_clothes.snapshot()
    _run(wash_clothes, wash_clothes.gold_plan(WASH_CLOTHES))
    done, done_view = wash_clothes.snapshot(), _view(wash_clothes)
    wash_clothes.restore(root)
    _run(wash_clothes, [Step("Walk", (TELEVISION,)), Step("SwitchOff", (TELEVISION,))])
    wash_clothes.restore(done)
    assert _view(wash_clothes) == done_view
    assert wash_clothes.score().success


def test_restore_a_snapshot_of_another_task(env):
    env.reset(WASH_CLOTHES)
    _run(env, env.gold_plan(WASH_CLOTHES)[:2])
    snapshot, before = env.snapshot(), _view(env)
    env.reset("688_1")
    env.restore(snapshot)
    assert _view(env) == before


# -- tasks ---------------------------------------------------------------------------------


def test_tasks_lists_342_tasks_in_26_categories(env):
    tasks = env.tasks()
    assert len(tasks) == 342
    assert len({t.id for t in tasks}) == 342
    assert all(isinstance(t, Task) and t.id and t.title and t.category for t in tasks)
    assert len({t.category for t in tasks}) == 26


def test_task_lookup(env):
    task = env.task(WASH_CLOTHES)
    assert task.title == "Wash clothes"
    assert task.category == "Wash clothes"
    assert "washing machine" in task.description


def test_unknown_task_suggests_tasks_with_the_same_number(env):
    with pytest.raises(UnknownTaskError) as info:
        env.reset("27_99")
    assert str(info.value) == "unknown VirtualHome task '27_99'; did you mean 27_2?"


def test_unknown_task_points_at_the_task_list(env):
    with pytest.raises(UnknownTaskError, match="`treeplanner tasks` lists them"):
        env.task("no_such_task")


def test_unknown_task_is_a_treeplanner_error_and_a_key_error(env):
    with pytest.raises(TreePlannerError):
        env.gold_plan("no_such_task")
    with pytest.raises(KeyError):
        env.gold_plan("no_such_task")


# -- objects and observations --------------------------------------------------------------


def test_objects_are_grounded_name_id_pairs(wash_clothes):
    objects = wash_clothes.objects()
    assert all(re.fullmatch(r"<[a-z0-9_]+> \(\d+\)", o.render()) for o in objects)
    ids = [o.id for o in objects]
    assert ids == sorted(set(ids))
    assert 65 not in ids  # the agent is not an object
    assert {SOAP, WASHING_MACHINE, TELEVISION} <= set(objects)


def test_rooms_and_location(wash_clothes):
    rooms = wash_clothes.rooms()
    assert [r.name for r in rooms] == ["bathroom", "bedroom", "dining_room", "home_office"]
    assert set(rooms) <= set(wash_clothes.objects())
    assert wash_clothes.location() == ObjectRef("bathroom", 1)
    _run(wash_clothes, [Step("Walk", (DINING_ROOM,))])
    assert wash_clothes.location() == DINING_ROOM


def test_observation_describes_the_room_and_what_is_held(wash_clothes):
    assert wash_clothes.observe().startswith("You are in the bathroom (1), holding nothing.")
    _run(wash_clothes, wash_clothes.gold_plan(WASH_CLOTHES)[:7])
    text = wash_clothes.observe()
    assert text.startswith(
        "You are in the dining_room (201), holding soap (1002) in your right hand."
    )
    assert "washing_machine (1001)" in text


def test_objects_in_other_rooms_are_not_seen(wash_clothes):
    assert "washing_machine (1001)" not in wash_clothes.observe()


def test_focused_observation_talks_only_about_the_focus(wash_clothes):
    _run(wash_clothes, wash_clothes.gold_plan(WASH_CLOTHES)[:7])
    lines = wash_clothes.observe(focus=[WASHING_MACHINE, 1002]).splitlines()
    assert lines[0].startswith("You are in the dining_room (201)")
    assert len(lines) == 3
    assert lines[1].startswith("washing_machine (1001) is closed, off")
    assert lines[2] == "soap (1002) is in your right hand."
    assert "television" not in "\n".join(lines)


def test_focus_accepts_ids_and_refs_alike_and_drops_duplicates(wash_clothes):
    by_ref = wash_clothes.observe(focus=[WASHING_MACHINE])
    assert wash_clothes.observe(focus=[1001, 1001, WASHING_MACHINE]) == by_ref


def test_focus_on_objects_out_of_view_or_missing(wash_clothes):
    lines = wash_clothes.observe(focus=[1001, 99999, 1]).splitlines()
    assert lines[1:] == [
        "washing_machine (1001) is not in view.",
        "There is no object (99999).",
        "You are in bathroom (1).",
    ]


def test_task_fields_carry_no_goal_annotations(env):
    assert set(Task.model_fields) == {"id", "title", "description", "category"}
    for task in env.tasks():
        goals = data.load_goals(task.id)
        text = " ".join(task.model_dump().values())
        assert "PLUGGED_IN" not in text
        assert "HOLDS_RH" not in text
        for goal in (*goals.states, *goals.relations):
            assert goal.describe() not in text, task.id


def test_observations_carry_no_goal_annotations(wash_clothes):
    goals = data.load_goals(WASH_CLOTHES)
    goal_texts = [g.describe() for g in (*goals.states, *goals.relations)]
    assert "washing_machine (1001) is PLUGGED_IN" in goal_texts
    ids = [o.id for o in wash_clothes.objects()]
    for steps in ([], wash_clothes.gold_plan(WASH_CLOTHES)):
        _run(wash_clothes, steps)
        for text in (wash_clothes.observe(), wash_clothes.observe(focus=ids)):
            assert "PLUGGED_IN" not in text
            assert not any(goal in text for goal in goal_texts)


# -- the global RNG ------------------------------------------------------------------------

_RNG_SCRIPT = textwrap.dedent(
    """
    import random
    random.seed(7)
    before = random.getstate()
    from environments.virtualhome import VirtualHomeEnv
    env = VirtualHomeEnv()
    env.reset("27_2")
    for step in env.gold_plan("27_2"):
        env.step(step)
    env.observe()
    env.score()
    print(random.getstate() == before)
    """
)


def _run_fresh(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_raw_simulator_import_reseeds_the_global_rng():
    """Why the next test matters: virtualhome_eval calls random.seed(123) when imported."""
    code = (
        "import random; random.seed(7); s = random.getstate(); "
        "import virtualhome_eval.simulation.evolving_graph.environment; "
        "print(random.getstate() == s)"
    )
    assert _run_fresh(code) == "False"


def test_using_the_simulator_leaves_the_global_rng_alone():
    assert _run_fresh(_RNG_SCRIPT) == "True"
