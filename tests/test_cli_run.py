"""`treeplanner run` end to end against a tiny OpenAI-compatible server on 127.0.0.1.

The server answers plan prompts with plans and decision prompts with letters, reports usage
with every response, and ignores `n` (one choice per response), as llama.cpp's server does.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from fakes import DECISION_MARK, count_completion_tokens, count_prompt_tokens
from helpers import scenario_plans, scenario_policy

from planner.cli import main
from planner.result import EpisodeResult


@dataclass
class Served:
    """What the server answered: one entry per request."""

    requests: list[dict] = field(default_factory=list)
    prompt_tokens: list[int] = field(default_factory=list)
    completion_tokens: list[int] = field(default_factory=list)


class FakeOpenAIServer(HTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), ChatCompletionsHandler)
        self.served = Served()
        self.plans = scenario_plans()
        self.decide = scenario_policy()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def answer(self, prompt: str) -> str:
        if DECISION_MARK in prompt:
            return self.decide(prompt)
        plan_requests = sum(DECISION_MARK not in _prompt(r) for r in self.served.requests)
        return self.plans[(plan_requests - 1) % len(self.plans)]


def _prompt(body: dict) -> str:
    return "\n".join(m["content"] for m in body["messages"])


class ChatCompletionsHandler(BaseHTTPRequestHandler):
    server: FakeOpenAIServer

    def do_POST(self) -> None:
        if self.path != "/v1/chat/completions":
            self.send_error(404)
            return
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        served = self.server.served
        served.requests.append(body)
        prompt = _prompt(body)
        text = self.server.answer(prompt)
        usage = (count_prompt_tokens(prompt), count_completion_tokens(text))
        served.prompt_tokens.append(usage[0])
        served.completion_tokens.append(usage[1])
        payload = {
            "id": f"chatcmpl-{len(served.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [  # one choice whatever `n` asked for
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": usage[0],
                "completion_tokens": usage[1],
                "total_tokens": sum(usage),
            },
        }
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep the test output clean


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    server = FakeOpenAIServer()
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def run_args(base_url: str, *extra: str) -> list[str]:
    return [
        "run",
        "--task",
        "27_2",
        "--llm",
        "openai:fake",
        "--base-url",
        base_url,
        "--samples",
        "4",
        "--votes",
        "3",
        *extra,
    ]


@pytest.fixture
def no_openai_env(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def test_run_ends_with_a_json_summary_of_the_episode(server, capsys, tmp_path, no_openai_env):
    out = tmp_path / "episode.json"

    code = main([*run_args(server.base_url, "--json", "--out", str(out))])

    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (summary["success"], summary["executable"], summary["gcr"]) == (True, True, 1.0)
    assert (summary["corrections"], summary["backtracks"]) == (2, 1)
    assert summary["stop_reason"] == "end"


def test_run_counts_every_request_the_server_served(server, capsys, no_openai_env):
    assert main(run_args(server.base_url, "--json")) == 0

    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    # n is ignored: 4 plan requests (one asking n=4, then 3 single ones), 3 per decision
    assert summary["llm_calls"] == len(server.served.requests) == 4 + 2 * 3
    assert [r.get("n") for r in server.served.requests[:4]] == [4, None, None, None]


def test_run_token_totals_equal_the_usage_the_server_reported(server, capsys, no_openai_env):
    assert main(run_args(server.base_url, "--json")) == 0

    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["prompt_tokens"] == sum(server.served.prompt_tokens)
    assert summary["completion_tokens"] == sum(server.served.completion_tokens)
    assert summary["tokens_estimated"] is False


def test_run_out_file_reads_back_as_an_episode_result(server, capsys, tmp_path, no_openai_env):
    out = tmp_path / "episode.json"

    assert main(run_args(server.base_url, "--json", "--out", str(out))) == 0

    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    result = EpisodeResult.read(out)
    assert result.summary() == summary
    assert result.llm == "openai:fake"
    assert result.tree is not None


def test_run_without_json_prints_the_episode(server, capsys, no_openai_env):
    assert main(run_args(server.base_url)) == 0

    out = capsys.readouterr().out
    assert "plans: 4/4 parsed, 3 distinct" in out
    assert "FAIL [Grab] <soap> (1002)" in out
    assert "stop: end  SR 1  EXEC 1  GCR 1.00 (5/5)  corrections 2  backtracks 1" in out


def test_run_writes_the_action_tree_as_dot(server, capsys, tmp_path, no_openai_env):
    dot = tmp_path / "tree.dot"

    assert main(run_args(server.base_url, "--json", "--dot", str(dot))) == 0

    text = dot.read_text("utf-8")
    assert text.startswith("digraph action_tree {")
    assert "[Walk] <dining_room> (201)" in text
    assert "fillcolor=lightpink" in text  # the failed nodes


def test_a_budget_spent_mid_episode_prints_the_summary_then_one_error_line(
    server, capsys, no_openai_env
):
    code = main(run_args(server.base_url, "--json", "--token-budget", "100"))

    captured = capsys.readouterr()
    assert code == 2
    summary = json.loads(captured.out.strip().splitlines()[-1])
    assert summary["stop_reason"] == "budget"
    # the first sampling request spends the budget; the second is never sent
    assert summary["llm_calls"] == len(server.served.requests) == 1
    used = sum(server.served.prompt_tokens) + sum(server.served.completion_tokens)
    assert summary["prompt_tokens"] + summary["completion_tokens"] == used
    assert captured.err.splitlines() == [
        f"treeplanner: error: token budget of 100 spent ({used} used)"
    ]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_endpoint_is_one_error_line_and_exit_2(capsys, no_openai_env):
    code = main(run_args(f"http://127.0.0.1:{closed_port()}/v1", "--json"))

    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("treeplanner: error: cannot reach the model endpoint")
    assert "Traceback" not in captured.err


def test_a_missing_api_key_without_base_url_is_a_clear_error(capsys, no_openai_env):
    code = main(["run", "--task", "27_2", "--llm", "openai:gpt-4o-mini"])

    err = capsys.readouterr().err
    assert code == 2
    assert err.splitlines() == [
        "treeplanner: error: OPENAI_API_KEY is not set "
        "(or pass --base-url for a local OpenAI-compatible server)"
    ]


def test_an_unknown_task_is_exit_2(capsys, no_openai_env):
    code = main(["run", "--task", "no_such_task", "--llm", "openai:fake", "--base-url", "x"])

    err = capsys.readouterr().err
    assert code == 2
    assert err.splitlines() == [
        "treeplanner: error: unknown VirtualHome task 'no_such_task'; "
        "`treeplanner tasks` lists them"
    ]


def test_an_unknown_llm_provider_is_exit_2(capsys):
    code = main(["run", "--task", "27_2", "--llm", "claude:opus"])

    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("treeplanner: error: unknown LLM spec 'claude:opus'")
