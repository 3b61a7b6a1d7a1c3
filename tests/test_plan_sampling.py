"""Phase 1 on task 27_2: one request for N plans, parsing, grounding, and what gets dropped."""

from __future__ import annotations

import pytest
from fakes import ScriptedChatModel, always
from helpers import BAD_PLAN, TASK, fresh_env, gold_lines, gold_text, plan_text

from environments.virtualhome import data
from planner.grounding import ObjectGrounder
from planner.llm_client import LLMClient
from planner.plan_sampling import (
    PlanSamplingConfig,
    parse_sample,
    plan_prompt,
    sample_plans,
)
from prompts import load_text
from skills import parse_plan


@pytest.fixture
def env():
    return fresh_env()


def sample(env, *texts: str, n: int | None = None, supports_n: bool = True):
    fake = ScriptedChatModel(respond=always(*texts), supports_n=supports_n)
    config = PlanSamplingConfig(n=n or len(texts), seed=5)
    samples = sample_plans(LLMClient(fake), env, env.task(TASK), config)
    return samples, fake


def test_all_plans_come_from_one_request_when_the_model_supports_n(env):
    samples, fake = sample(env, gold_text(), plan_text(BAD_PLAN), n=4)

    assert len(fake.calls) == 1
    assert fake.calls[0].n == 4
    assert samples.requested == 4
    assert len(samples.raw) == 4


def test_the_sampling_request_uses_the_papers_settings_and_stops_at_a_blank_line(env):
    _, fake = sample(env, gold_text(), n=2)

    call = fake.calls[0]
    assert (call.kwargs["temperature"], call.kwargs["top_p"]) == (0.8, 0.95)
    assert call.kwargs["seed"] == 5
    assert call.stop == ["\n\n", "\nTask:"]


def test_a_model_ignoring_n_still_yields_n_samples_by_seeded_requests(env):
    samples, fake = sample(env, gold_text(), plan_text(BAD_PLAN), n=3, supports_n=False)

    assert [c.n for c in fake.calls] == [3, None, None]
    assert [c.seed for c in fake.calls] == [5, 6, 7]
    assert len(samples.plans) == 3


def test_plans_are_parsed_into_steps_in_sample_order(env):
    samples, _ = sample(env, gold_text(), plan_text(BAD_PLAN))

    assert [[s.render() for s in plan] for plan in samples.plans] == [
        list(gold_lines()),
        BAD_PLAN,
    ]
    assert samples.plan_sample_ids == [0, 1]


def test_plan_objects_are_grounded_to_the_scene(env):
    written = "1. [walk] <Dining Room> (201)\n2. [Find] <soap> (1)\n3. [Grab] <soap>"

    samples, _ = sample(env, written)

    assert [s.render() for s in samples.plans[0]] == [
        "[Walk] <dining_room> (201)",
        "[Find] <soap> (1002)",
        "[Grab] <soap> (1002)",
    ]


def test_duplicate_plans_are_all_kept(env):
    samples, _ = sample(env, gold_text(), gold_text(), plan_text(BAD_PLAN))

    assert len(samples.plans) == 3
    assert samples.distinct == 2


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[Walk] <dining_room> (201)\n[Fly] <soap> (1002)", "unknown_action"),
        ("[Walk] <dining_room> (201) quickly", "unparseable"),
        ("[Walk] <dining_room> (201)\n[Grab] <xyzzy>", "unknown_object"),
        ("[Walk]", "wrong_arity"),
        ("I do not know how to wash clothes.", "empty"),
        ("", "empty"),
    ],
)
def test_a_sample_that_is_not_a_usable_plan_is_dropped_with_its_reason(env, text, reason):
    samples, _ = sample(env, gold_text(), text)

    assert len(samples.plans) == 1
    assert samples.plan_sample_ids == [0]
    assert samples.dropped == {reason: 1}


def test_dropped_samples_are_counted_per_reason(env):
    samples, _ = sample(
        env,
        gold_text(),
        "[Fly] <soap> (1002)",
        "[Swim] <soap> (1002)",
        "[Grab] <xyzzy>",
        "no plan",
    )

    assert samples.dropped == {"unknown_action": 2, "unknown_object": 1, "empty": 1}
    assert len(samples.plans) == 1
    assert samples.raw[1] == "[Fly] <soap> (1002)"


def test_a_sample_that_runs_on_into_another_task_is_cut_there(env):
    grounder = ObjectGrounder(env.objects(), env.synonyms())
    text = f"{gold_text()}\nTask: Watch TV\n[Walk] <television> (248)"

    plan, reason = parse_sample(text, env, grounder, max_steps=40)

    assert reason is None
    assert plan is not None
    assert [s.render() for s in plan] == list(gold_lines())


def test_a_sample_longer_than_max_steps_is_cut_to_max_steps(env):
    grounder = ObjectGrounder(env.objects(), env.synonyms())

    plan, _ = parse_sample(gold_text(), env, grounder, max_steps=3)

    assert plan is not None
    assert [s.render() for s in plan] == list(gold_lines()[:3])


# -- the prompt ----------------------------------------------------------------------------------


@pytest.fixture
def prompt(env) -> str:
    return plan_prompt(env, env.task(TASK))


def test_the_prompt_is_the_one_sent_to_the_model(env, prompt):
    _, fake = sample(env, gold_text())

    assert fake.calls[0].prompt == prompt


def test_the_prompt_lists_every_skill(env, prompt):
    for skill in ("[Walk] <object>", "[Grab] <object>", "[PutBack] <object> <target>"):
        assert skill in prompt
    assert env.vocabulary.describe() in prompt


def test_the_prompt_lists_rooms_and_objects_as_name_and_ids(env, prompt):
    rooms = "<bathroom> (1), <bedroom> (67), <dining_room> (201), <home_office> (319)"
    assert f"The house has these rooms: {rooms}" in prompt
    listing = prompt.split("Objects in the house: ")[1].split("\n")[0]
    for obj in ("<washing_machine> (1001", "<soap> (1002", "<basket_for_clothes> (1000"):
        assert obj in listing
    # objects sharing a name are listed once with all their ids
    assert listing.count("<floor> (") == 1
    assert "<floor> (2, 3, 4," in listing


def test_the_prompt_says_where_the_agent_is(prompt):
    assert "You are in the <bathroom> (1)." in prompt


def test_the_prompt_has_the_few_shot_examples_before_the_task(prompt):
    examples = load_text("virtualhome", "examples.txt")
    assert examples in prompt
    assert prompt.index(examples) < prompt.index("Task: Wash clothes")


def test_the_few_shot_examples_are_valid_plans(env):
    examples = load_text("virtualhome", "examples.txt")

    assert len(parse_plan(examples, env.vocabulary)) > 10


def test_the_prompt_ends_with_the_task_title_and_description(env, prompt):
    task = env.task(TASK)
    assert prompt.endswith(f"Task: {task.title}\nDescription: {task.description}\nPlan:\n")


def test_the_prompt_does_not_reveal_the_goal_annotations(prompt):
    goals = data.load_goals(TASK)

    assert goals.total == 5
    for goal in (*goals.states, *goals.relations):
        assert goal.describe() not in prompt
    for word in ("PLUGGED_IN", "CLOSED", "goal", "vh_goal", "(1003) ON (1001)"):
        assert word not in prompt
