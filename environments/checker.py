"""`check_env`: run the `Environment` contract against any simulator a user plugs in."""

from __future__ import annotations

from environments.errors import EnvironmentError_
from environments.protocol import Environment, GoalReport, StepOutcome, Task
from skills import ObjectRef, Step


class EnvironmentContractError(EnvironmentError_, AssertionError):
    """An environment breaks the contract; the message says which part."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise EnvironmentContractError(message)


def check_env(env: Environment, task: Task | str | None = None) -> None:
    """Check the contract on one task: types, failed steps as outcomes, snapshot/restore, score.

    Raises `EnvironmentContractError` naming the first broken promise.
    """
    _require(isinstance(env, Environment), "does not implement the Environment protocol")
    tasks = env.tasks()
    _require(bool(tasks) and all(isinstance(t, Task) for t in tasks), "tasks() must list Tasks")
    observation = env.reset(task if task is not None else tasks[0])
    _require(isinstance(observation, str) and bool(observation), "reset() must return text")
    objects = env.objects()
    _require(
        bool(objects) and all(isinstance(o, ObjectRef) and o.id is not None for o in objects),
        "objects() must list grounded ObjectRefs",
    )
    before = env.snapshot()
    seen = env.observe()
    bogus = Step(
        env.vocabulary.skills[0].name,
        (ObjectRef("no_such_object", -12345),) * env.vocabulary.skills[0].arity,
    )
    outcome = env.step(bogus)
    _require(isinstance(outcome, StepOutcome), "step() must return a StepOutcome")
    _require(not outcome.success and bool(outcome.message), "a bad step must fail with a message")
    for candidate in objects[:20]:
        skill = env.vocabulary.skills[0]
        if skill.arity == 1 and env.step(Step(skill.name, (candidate,))).success:
            break
    env.restore(before)
    _require(env.observe() == seen, "restore(snapshot()) must give the same observation back")
    _require(env.executed_steps() == [], "restore() must restore the trajectory")
    report = env.score()
    _require(isinstance(report, GoalReport), "score() must return a GoalReport")
    _require(0.0 <= report.gcr <= 1.0, "score().gcr must lie in [0, 1]")
