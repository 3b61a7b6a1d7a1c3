"""`treeplanner bench`: the runner end to end with a scripted model, errors, kill and resume,
the Ray backend and the command line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from fakes import DECISION_MARK, ScriptedChatModel
from helpers import shared_env

import planner.bench_runner as bench_runner
import planner.methods
from planner.bench_runner import BenchConfig, EpisodeKey, episode_keys, run_bench
from planner.cli import main
from planner.errors import PlannerError
from planner.summary import EpisodeRecord, read_records
from skills import render_plan

TESTS = Path(__file__).resolve().parent
TASKS = ["27_2", "311_1"]
RECORDED = "recorded:gpt-4o-2024-05-13"
UNUSED_ENDPOINT = "http://127.0.0.1:9/v1"


@cache
def gold_texts() -> dict[str, str]:
    """The gold plan of every task used here, by the task's prompt lines."""
    env = shared_env()
    plans = {}
    for task_id in TASKS:
        task = env.task(task_id)
        plans[f"Task: {task.title}\nDescription: {task.description}"] = render_plan(
            env.gold_plan(task_id)
        )
    return plans


def gold_responder(prompt: str) -> str:
    """Plan prompts get the task's gold plan; decision prompts get `A`."""
    if DECISION_MARK in prompt:
        return "A"
    for marker, plan in gold_texts().items():
        if marker in prompt:
            return plan
    return "no plan"


def config(out: Path, **settings: Any) -> BenchConfig:
    values: dict[str, Any] = {
        "methods": ["tree-planner", "zero-shot"],
        "tasks": TASKS,
        "seeds": [0, 1],
        "llm": "openai:fake",
        "out": out,
        "workers": 2,
        "samples": 3,
        "votes": 2,
        "cache": False,
        **settings,
    }
    return BenchConfig(**values)


@pytest.fixture
def fake(monkeypatch) -> ScriptedChatModel:
    """The model every episode of `run_bench` gets."""
    model = ScriptedChatModel(respond=gold_responder)
    monkeypatch.setattr(bench_runner, "build_llm", lambda config: model)
    return model


def keys_of(records: list[EpisodeRecord]) -> Counter[tuple[str, str, int, str]]:
    return Counter(r.key for r in records if r.result is not None)


def all_keys(cfg: BenchConfig) -> set[tuple[str, str, int, str]]:
    return {(k.method, k.task, k.seed, k.plans) for k in episode_keys(cfg)}


# -- end to end ---------------------------------------------------------------------------------


def test_a_run_writes_every_episode_and_the_summaries(fake, tmp_path):
    cfg = config(tmp_path / "run")
    summary = run_bench(cfg)

    records = read_records(cfg.episodes_path)
    assert len(records) == 8
    assert cfg.episodes_path.read_text("utf-8").count("\n") == 8
    assert keys_of(records) == Counter(all_keys(cfg))
    assert all(r.error is None and r.result is not None for r in records)
    assert all(r.result.success for r in records if r.result is not None)
    assert {(m.method, m.episodes, m.sr.mean) for m in summary.methods} == {
        ("tree-planner", 4, 1.0),
        ("zero-shot", 4, 1.0),
    }
    assert [(r.baseline, r.paired_episodes) for r in summary.ratios] == [("zero-shot", 4)]
    assert (cfg.out / "summary.md").is_file()
    assert (cfg.out / "summary.csv").read_text("utf-8").startswith("method,plans,episodes")
    # every request of every episode went to the one model
    assert sum(r.result.llm_calls for r in records if r.result is not None) == len(fake.calls)


def test_the_run_writes_plots_when_matplotlib_is_there(fake, tmp_path):
    pytest.importorskip("matplotlib")
    cfg = config(tmp_path / "run", methods=["zero-shot"], seeds=[0])
    run_bench(cfg)

    for name in ("tokens_vs_sr.png", "sr_by_category.png"):
        assert (cfg.out / name).read_bytes()[:4] == b"\x89PNG"


def test_the_run_passes_its_settings_to_the_methods(fake, tmp_path):
    cfg = config(tmp_path / "run", methods=["tree-planner"], tasks=["27_2"], seeds=[3], samples=4)
    run_bench(cfg)
    (record,) = read_records(cfg.episodes_path)

    assert record.result is not None
    assert record.result.seed == 3
    assert record.result.llm == "openai:fake"
    assert record.result.details["plans_requested"] == 4
    assert fake.calls[0].n == 4


def test_an_episode_that_raises_is_recorded_and_the_run_goes_on(fake, tmp_path, monkeypatch):
    real = planner.methods.make_method

    class Exploding:
        def __init__(self, method: Any) -> None:
            self.method = method

        def run(self, env: Any, task: Any) -> Any:
            if task == "311_1":
                raise RuntimeError("boom")
            return self.method.run(env, task)

    monkeypatch.setattr(planner.methods, "make_method", lambda *a, **k: Exploding(real(*a, **k)))
    cfg = config(tmp_path / "run", methods=["zero-shot"])
    summary = run_bench(cfg)

    records = read_records(cfg.episodes_path)
    assert len(records) == 4
    failed = [r for r in records if r.result is None]
    assert {(r.task, r.error) for r in failed} == {("311_1", "RuntimeError: boom")}
    assert len(failed) == 2  # both seeds
    assert {r.task for r in records if r.result is not None} == {"27_2"}
    (zero,) = summary.methods
    assert (zero.episodes, zero.errors) == (2, 2)

    # A resumed run retries only the episodes that raised; their new records count.
    monkeypatch.setattr(planner.methods, "make_method", real)
    before = len(fake.calls)
    summary = run_bench(cfg.model_copy(update={"resume": True}))

    assert len(fake.calls) - before == 2
    records = read_records(cfg.episodes_path)
    assert len(records) == 6
    assert keys_of(records) == Counter(all_keys(cfg))
    (zero,) = summary.methods
    assert (zero.episodes, zero.errors) == (4, 0)


def test_an_existing_run_without_resume_is_an_error(fake, tmp_path):
    cfg = config(tmp_path / "run", methods=["zero-shot"], seeds=[0])
    run_bench(cfg)
    before = cfg.episodes_path.read_bytes()
    calls = len(fake.calls)

    with pytest.raises(PlannerError, match="--resume"):
        run_bench(cfg)
    assert cfg.episodes_path.read_bytes() == before
    assert len(fake.calls) == calls


def test_resuming_a_finished_run_runs_nothing(fake, tmp_path):
    cfg = config(tmp_path / "run", methods=["zero-shot"])
    run_bench(cfg)
    before = cfg.episodes_path.read_bytes()
    calls = len(fake.calls)

    summary = run_bench(cfg.model_copy(update={"resume": True}))

    assert len(fake.calls) == calls
    assert cfg.episodes_path.read_bytes() == before
    assert summary.methods[0].episodes == 4


def test_resume_into_a_new_directory_starts_from_scratch(fake, tmp_path):
    cfg = config(tmp_path / "new", methods=["zero-shot"], seeds=[0], resume=True)
    run_bench(cfg)

    assert len(read_records(cfg.episodes_path)) == 2


def test_a_resumed_run_after_a_torn_last_line_loses_no_episode(fake, tmp_path):
    cfg = config(tmp_path / "run", methods=["zero-shot"], seeds=[0])
    run_bench(cfg)
    first, second = cfg.episodes_path.read_text("utf-8").splitlines()
    cfg.episodes_path.write_text(first + "\n" + second[:80], "utf-8")  # killed mid-write

    run_bench(cfg.model_copy(update={"resume": True}))

    assert keys_of(read_records(cfg.episodes_path)) == Counter(all_keys(cfg))


# -- killed and resumed ---------------------------------------------------------------------------

KILLED_RUN = """
import sys, time
sys.path.insert(0, sys.argv[1])
from fakes import ScriptedChatModel
import planner.bench_runner as bench_runner

def respond(prompt):
    time.sleep(0.3)
    return "[Walk] <dining_room> (201)"

bench_runner.build_llm = lambda config: ScriptedChatModel(respond=respond)
bench_runner.run_bench(bench_runner.BenchConfig.model_validate_json(sys.argv[2]))
"""


def test_a_killed_run_resumes_without_losing_or_repeating_episodes(fake, tmp_path):
    cfg = config(
        tmp_path / "run",
        methods=["zero-shot"],
        seeds=[0, 1, 2, 3, 4],
        workers=1,
    )
    total = len(episode_keys(cfg))
    assert total == 10
    log = (tmp_path / "killed.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-c", KILLED_RUN, str(TESTS), cfg.model_dump_json()],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            path = cfg.episodes_path
            if path.exists() and path.read_bytes().count(b"\n") >= 2:
                break
            assert process.poll() is None, (tmp_path / "killed.log").read_text()
            time.sleep(0.05)
        else:
            pytest.fail("the run wrote no two episodes in 120 s")
        assert process.poll() is None  # still running: killed mid-run
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()

    finished = read_records(cfg.episodes_path)
    assert 2 <= len(finished) < total
    assert all(r.result is not None for r in finished)

    run_bench(cfg.model_copy(update={"resume": True}))

    records = read_records(cfg.episodes_path)
    assert keys_of(records) == Counter(all_keys(cfg))  # each once, none lost
    assert len(records) == total
    assert records[: len(finished)] == finished
    # The resumed run ran only the episodes the killed one had not finished.
    assert len(fake.calls) == total - len(finished)
    ran = {(r.method, r.task, r.seed, r.plans) for r in records[len(finished) :]}
    assert ran == all_keys(cfg) - {r.key for r in finished}


# -- Ray ------------------------------------------------------------------------------------------


@pytest.fixture
def ray_module(monkeypatch):
    ray = pytest.importorskip("ray", reason="the Ray backend needs ray")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    if ray.is_initialized():
        ray.shutdown()
    yield ray
    ray.shutdown()


def recorded_config(out: Path, **settings: Any) -> BenchConfig:
    """zero-shot on recorded plans: no model is ever called."""
    return BenchConfig(
        methods=["zero-shot"],
        tasks=TASKS,
        seeds=[0, 1],
        plans=RECORDED,
        llm="openai:unused",
        base_url=UNUSED_ENDPOINT,
        out=out,
        cache=False,
        **settings,
    )


def outcomes(path: Path) -> set[tuple[str, str, int, bool, float]]:
    return {
        (r.method, r.task, r.seed, r.result.success, r.result.gcr)
        for r in read_records(path)
        if r.result is not None
    }


def test_the_ray_backend_gives_the_same_records_as_asyncio(ray_module, tmp_path):
    local = recorded_config(tmp_path / "asyncio", workers=2)
    ray_run = recorded_config(tmp_path / "ray", workers=2, backend="ray")

    run_bench(local)
    summary = run_bench(ray_run)

    ray_records = read_records(ray_run.episodes_path)
    assert len(ray_records) == 4
    assert all(r.error is None and r.result is not None for r in ray_records)
    assert all(r.result.llm_calls == 1 and r.result.tokens.estimated for r in ray_records)
    assert outcomes(ray_run.episodes_path) == outcomes(local.episodes_path)
    assert len(outcomes(ray_run.episodes_path)) == 4
    assert ray_module.is_initialized()
    assert ray_module.cluster_resources().get("CPU") == 2
    assert (ray_run.out / "summary.md").is_file()
    assert summary.methods[0].episodes == 4


# -- the command line -----------------------------------------------------------------------------


def test_the_bench_command_runs_and_prints_the_summary(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    out = tmp_path / "cli"
    code = main(
        [
            "bench",
            "--methods",
            "zero-shot",
            "--tasks",
            "27_2",
            "--plans",
            RECORDED,
            "--llm",
            "openai:unused",
            "--base-url",
            UNUSED_ENDPOINT,
            "--out",
            str(out),
            "--no-cache",
        ]
    )
    printed = capsys.readouterr().out

    assert code == 0
    assert printed.startswith("| method | plans | episodes | errors | EXEC | SR | GCR |")
    assert f"| zero-shot | {RECORDED} | 1 | 0 |" in printed
    assert printed.rstrip("\n") == (out / "summary.md").read_text("utf-8").rstrip("\n")
    (record,) = read_records(out / "episodes.jsonl")
    assert record.key == ("zero-shot", "27_2", 0, RECORDED)
    assert not (out / "llm_cache.sqlite").exists()


def test_the_bench_command_rejects_an_unknown_method_in_one_line(tmp_path, capsys):
    code = main(["bench", "--methods", "zero-shot,nope", "--out", str(tmp_path / "x")])
    captured = capsys.readouterr()

    assert code == 2
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("treeplanner: error: unknown method(s) nope; known: tree-planner")
    assert not (tmp_path / "x").exists()


def test_the_bench_command_rejects_an_existing_run_without_resume(tmp_path, capsys):
    (tmp_path / "episodes.jsonl").write_text("", "utf-8")
    code = main(
        [
            "bench",
            "--methods",
            "zero-shot",
            "--tasks",
            "27_2",
            "--llm",
            "openai:unused",
            "--base-url",
            UNUSED_ENDPOINT,
            "--out",
            str(tmp_path),
        ]
    )
    lines = capsys.readouterr().err.splitlines()

    assert code == 2
    assert len(lines) == 1 and "--resume" in lines[0]


def test_the_bench_command_rewrites_the_report_only(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    args = [
        "bench",
        "--methods",
        "zero-shot",
        "--tasks",
        "27_2",
        "--plans",
        RECORDED,
        "--llm",
        "openai:unused",
        "--base-url",
        UNUSED_ENDPOINT,
        "--out",
        str(tmp_path),
        "--no-cache",
    ]
    assert main(args) == 0
    episodes = (tmp_path / "episodes.jsonl").read_bytes()
    (tmp_path / "summary.md").unlink()
    capsys.readouterr()

    assert main([*args, "--report-only", "--json"]) == 0
    printed = capsys.readouterr().out
    assert (tmp_path / "episodes.jsonl").read_bytes() == episodes
    assert printed.startswith((tmp_path / "summary.md").read_text("utf-8"))
    assert '"methods": [{"method": "zero-shot"' in printed.splitlines()[-1]


def test_report_only_on_a_missing_directory_is_one_error_line(tmp_path, capsys):
    missing = tmp_path / "missing"
    args = ["bench", "--methods", "zero-shot", "--tasks", "27_2", "--out", str(missing)]
    code = main([*args, "--report-only"])

    assert code == 2
    assert len(capsys.readouterr().err.splitlines()) == 1


@pytest.mark.filterwarnings("ignore:No artists with labels")
def test_the_bench_command_rejects_an_unknown_plan_source_up_front(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    out = tmp_path / "run"
    code = main(
        [
            "bench",
            "--methods",
            "zero-shot",
            "--tasks",
            "27_2",
            "--plans",
            "recorded:nope",
            "--llm",
            "openai:unused",
            "--base-url",
            UNUSED_ENDPOINT,
            "--out",
            str(out),
            "--no-cache",
        ]
    )

    assert code == 2
    assert not (out / "episodes.jsonl").exists()


def test_episode_keys_put_seeds_outermost():
    cfg = config(Path("unused"), methods=["a", "b"], tasks=["t"], seeds=[0, 1], plans="live")

    assert episode_keys(cfg) == [
        EpisodeKey("a", "t", 0, "live"),
        EpisodeKey("b", "t", 0, "live"),
        EpisodeKey("a", "t", 1, "live"),
        EpisodeKey("b", "t", 1, "live"),
    ]
