"""The `treeplanner` command line: `gold` and `tasks`, JSON output and one-line errors."""

from __future__ import annotations

import json

import pytest

from planner.cli import main


def _last_json_line(out: str) -> object:
    return json.loads(out.strip().splitlines()[-1])


def test_gold_json_ends_with_a_summary_line(capsys):
    assert main(["gold", "--task", "27_2", "--json"]) == 0
    summary = _last_json_line(capsys.readouterr().out)
    assert summary == {"episodes": 1, "executable": 1.0, "sr": 1.0, "gcr": 1.0, "failures": []}


def test_gold_json_lists_failures(capsys):
    assert main(["gold", "--task", "27_2", "--task", "688_1", "--json"]) == 0
    captured = capsys.readouterr()
    summary = _last_json_line(captured.out)
    assert summary["episodes"] == 2
    assert summary["sr"] == 0.5
    assert [f["task"] for f in summary["failures"]] == ["688_1"]
    assert "already grabbed" in summary["failures"][0]["message"]
    assert captured.err.startswith("688_1: SR 0")


def test_gold_text_shows_every_step_and_the_scores(capsys):
    assert main(["gold", "--task", "27_2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "  1. ok   [Walk] <dining_room> (201)"
    assert lines[-2] == "27_2: SR 1 GCR 1.00 (5/5)"
    assert lines[-1] == "episodes 1  EXEC 1.000  SR 1.000  GCR 1.000"


def test_tasks_json_lists_every_task(capsys):
    assert main(["tasks", "--json"]) == 0
    tasks = _last_json_line(capsys.readouterr().out)
    assert isinstance(tasks, list)
    assert len(tasks) == 342
    assert set(tasks[0]) == {"id", "title", "description", "category"}
    assert (tasks[0]["id"], tasks[0]["title"]) == ("27_2", "Wash clothes")


def test_tasks_text_ends_with_the_count(capsys):
    assert main(["tasks"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "342 tasks"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["gold", "--task", "no_such_task"], "unknown VirtualHome task 'no_such_task'"),
        (["gold"], "give --task ID (repeatable) or --all"),
        (["tasks", "--env", "minecraft"], "unknown environment 'minecraft'; known: virtualhome"),
    ],
    ids=["unknown task", "no task", "unknown environment"],
)
def test_errors_are_one_line_on_stderr_with_exit_status_2(capsys, argv, message):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("treeplanner: error: ")
    assert message in lines[0]
    assert "Traceback" not in captured.err


def test_bad_arguments_exit_through_argparse(capsys):
    with pytest.raises(SystemExit) as info:
        main(["gold", "--bogus"])
    assert info.value.code == 2
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err
