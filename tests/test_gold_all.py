"""Every annotated gold program, replayed open loop, meets its goals (slow: about 10 s)."""

from __future__ import annotations

import pytest

from planner.replay import ReplaySummary, replay_plan

pytestmark = pytest.mark.slow


def test_all_gold_programs_replay(env):
    results = [replay_plan(env, task.id, env.gold_plan(task.id)) for task in env.tasks()]
    summary = ReplaySummary.of(results)
    assert summary.episodes == 342
    assert summary.sr >= 0.99
    assert summary.gcr >= 0.99
    failures = {r.task_id: r.failure for r in results if r.failure is not None}
    unsuccessful = {r.task_id for r in results if not r.report.success}
    assert unsuccessful == set(failures), "every unmet goal comes from a failed step"
    for task_id, failure in failures.items():
        assert "already grabbed" in failure.message, f"{task_id}: {failure.step}: {failure.message}"
    assert set(failures) == {"688_1"}
