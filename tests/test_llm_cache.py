"""The on-disk LLM response cache (planner/llm_cache.py), with the scripted fake chat model."""

from __future__ import annotations

import asyncio
import pickle
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest
from fakes import ScriptedChatModel, always
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatResult, Generation

from planner.llm_cache import (
    CACHED,
    REQUEST_TOKEN_USAGE,
    SQLiteLLMCache,
    cache_key,
    with_cache,
)
from planner.llm_client import LLMClient, SamplingParams

PROMPT = "Plan the task: wash clothes"
KWARGS: dict[str, Any] = {"temperature": 0.7, "top_p": 1.0, "max_tokens": 64, "seed": 3}


def generate(llm: Any, prompt: str = PROMPT, **kwargs: Any) -> list[ChatGeneration]:
    """The generations of one `generate` call, as LLMClient makes it."""
    result = llm.generate([[HumanMessage(prompt)]], **{**KWARGS, **kwargs})
    return list(result.generations[0])


def rows(path: Path) -> list[tuple[str, str, str, str]]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT key, llm_string, prompt, generations FROM llm_cache").fetchall()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "llm.sqlite"


# -- hits, misses, keys ------------------------------------------------------------------------
def test_miss_stores_then_identical_call_hits_without_the_model(db: Path) -> None:
    fake = ScriptedChatModel(respond=always("walk to laundry", "grab soap"), usage="message")
    llm = with_cache(fake, db)

    first = generate(llm)
    second = generate(llm)

    assert len(fake.calls) == 1  # the second answer came from the cache
    assert [g.text for g in second] == [g.text for g in first] == ["walk to laundry"]
    assert not first[0].message.response_metadata.get(CACHED)
    assert not (first[0].generation_info or {}).get(CACHED)
    hit = second[0]
    assert hit.message.response_metadata[CACHED] is True
    assert hit.generation_info is not None and hit.generation_info[CACHED] is True
    usage, original = hit.message.usage_metadata, first[0].message.usage_metadata
    assert usage is not None and original is not None
    assert (usage["input_tokens"], usage["output_tokens"]) == (
        original["input_tokens"],
        original["output_tokens"],
    )
    assert len(rows(db)) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"seed": 4},
        {"temperature": 0.2},
        {"top_p": 0.9},
        {"max_tokens": 65},
        {"n": 2},
        {"stop": ["\n"]},
    ],
)
def test_a_different_call_parameter_misses(db: Path, change: dict[str, Any]) -> None:
    fake = ScriptedChatModel(respond=always("a", "b"))
    llm = with_cache(fake, db)
    generate(llm)
    generate(llm, **change)
    assert len(fake.calls) == 2
    assert len(rows(db)) == 2
    generate(llm, **change)  # ...which is cached in turn
    assert len(fake.calls) == 2


def test_a_different_prompt_misses(db: Path) -> None:
    fake = ScriptedChatModel(respond=always("a"))
    llm = with_cache(fake, db)
    generate(llm, "one")
    generate(llm, "two")
    assert len(fake.calls) == 2


def test_entries_keep_the_raw_llm_string_and_prompt(db: Path) -> None:
    llm = with_cache(ScriptedChatModel(respond=always("a")), db)
    generate(llm)
    [(key, llm_string, prompt, _)] = rows(db)
    assert "('seed', 3)" in llm_string and "('temperature', 0.7)" in llm_string
    assert PROMPT in prompt
    assert key == cache_key(prompt, llm_string)
    assert len(key) == 64


def test_entries_persist_across_cache_instances(db: Path) -> None:
    generate(with_cache(ScriptedChatModel(respond=always("first answer")), db))

    fresh = ScriptedChatModel(respond=always("another answer"))
    reopened = with_cache(fresh, SQLiteLLMCache(db))
    [hit] = generate(reopened)

    assert fresh.calls == []
    assert hit.text == "first answer"
    assert hit.message.response_metadata[CACHED] is True


def test_clear_empties_the_cache(db: Path) -> None:
    cache = SQLiteLLMCache(db)
    fake = ScriptedChatModel(respond=always("a"))
    llm = with_cache(fake, cache)
    generate(llm)
    generate(llm, "other prompt")
    assert len(cache) == 2

    cache.clear()

    assert len(cache) == 0
    generate(llm)
    assert len(fake.calls) == 3


def test_the_first_answer_stored_for_a_key_stays(db: Path) -> None:
    cache = SQLiteLLMCache(db)
    cache.update("p", "llm", [ChatGeneration(message=AIMessage("first"))])
    cache.update("p", "llm", [ChatGeneration(message=AIMessage("second"))])
    hit = cache.lookup("p", "llm")
    assert hit is not None and [g.text for g in hit] == ["first"]


def test_an_unreadable_entry_is_a_miss_and_is_replaced(db: Path) -> None:
    fake = ScriptedChatModel(respond=always("a"))
    llm = with_cache(fake, db)
    generate(llm)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE llm_cache SET generations = 'not json'")

    generate(llm)
    generate(llm)

    assert len(fake.calls) == 2  # the broken entry missed once, then the new one hit


# -- what round-trips ----------------------------------------------------------------------------
def test_generations_round_trip_with_metadata_and_info(db: Path) -> None:
    cache = SQLiteLLMCache(db)
    message = AIMessage(
        content="walk to kitchen",
        id="run-1",
        usage_metadata={
            "input_tokens": 12,
            "output_tokens": 4,
            "total_tokens": 16,
            "input_token_details": {"cache_read": 8},
        },
        response_metadata={"finish_reason": "stop", "model_name": "m", "logprobs": None},
    )
    chat = ChatGeneration(message=message, generation_info={"finish_reason": "stop"})
    text = Generation(text="plain", generation_info={"finish_reason": "length"})
    cache.update("p", "llm", [chat, text])

    hit = SQLiteLLMCache(db).lookup("p", "llm")

    assert hit is not None
    back, plain = hit
    assert isinstance(back, ChatGeneration) and isinstance(back.message, AIMessage)
    assert back.text == "walk to kitchen"
    assert back.message.id == "run-1"
    assert back.message.usage_metadata == message.usage_metadata
    assert back.message.response_metadata == {**message.response_metadata, CACHED: True}
    assert back.generation_info == {"finish_reason": "stop", CACHED: True}
    assert type(plain) is Generation
    assert plain.text == "plain"
    assert plain.generation_info == {"finish_reason": "length", CACHED: True}


def test_the_cached_mark_is_not_stored(db: Path) -> None:
    cache = SQLiteLLMCache(db)
    cache.update("p", "llm", [ChatGeneration(message=AIMessage("a"))])
    hit = cache.lookup("p", "llm")
    assert hit is not None
    cache.update("p", "other llm", hit)  # e.g. copying entries
    assert all(f'"{CACHED}"' not in stored for *_, stored in rows(db))


def test_an_unserializable_answer_is_not_cached(db: Path) -> None:
    cache = SQLiteLLMCache(db)
    odd = ChatGeneration(message=AIMessage("a"), generation_info={"handle": object()})
    cache.update("p", "llm", [odd])
    assert cache.lookup("p", "llm") is None


def test_the_api_key_is_not_written_to_the_file(db: Path) -> None:
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(model="gpt-4o-mini", api_key="sk-not-a-real-key", base_url="http://x/v1")  # type: ignore[arg-type]
    cache = SQLiteLLMCache(db)
    llm_string = with_cache(llm, cache)._get_llm_string(stop=None, **KWARGS)
    cache.update("p", llm_string, [ChatGeneration(message=AIMessage("a"))])
    cache.close()
    assert b"sk-not-a-real-key" not in b"".join(p.read_bytes() for p in db.parent.iterdir())


# -- with_cache ------------------------------------------------------------------------------------
def test_with_cache_copies_the_model_and_keeps_its_callbacks(db: Path) -> None:
    class Spy(BaseCallbackHandler):
        ends = 0

        def on_llm_end(self, response: Any, **kwargs: Any) -> None:
            Spy.ends += 1

    spy = Spy()
    fake = ScriptedChatModel(respond=always("a"), callbacks=[spy])
    llm = with_cache(fake, db)

    assert fake.cache is None and fake.callbacks == [spy]
    assert isinstance(llm.cache, SQLiteLLMCache)
    assert llm.callbacks is not None and spy in llm.callbacks
    assert llm.cache.usage_recorder in llm.callbacks  # type: ignore[operator]
    generate(llm)
    generate(llm)
    assert Spy.ends == 2
    assert with_cache(llm, llm.cache).callbacks == llm.callbacks  # the recorder once


def test_async_calls_use_the_cache(db: Path) -> None:
    fake = ScriptedChatModel(respond=always("a"), usage="message")
    llm = with_cache(fake, db)
    first = llm.invoke("hi", seed=1)
    second = asyncio.run(llm.ainvoke("hi", seed=1))
    assert len(fake.calls) == 1
    assert second.content == first.content
    assert second.response_metadata[CACHED] is True


def test_the_cache_pickles_by_path(db: Path) -> None:
    cache = SQLiteLLMCache(db)
    cache.update("p", "llm", [ChatGeneration(message=AIMessage("a"))])
    copy = pickle.loads(pickle.dumps(cache))
    assert copy.path == db
    hit = copy.lookup("p", "llm")
    assert hit is not None and hit[0].text == "a"


# -- through LLMClient: ledger and determinism -------------------------------------------------
def test_the_ledger_marks_replayed_calls_cached(db: Path) -> None:
    fake = ScriptedChatModel(respond=always("walk to laundry"), usage="message")
    client = LLMClient(with_cache(fake, db))
    params = SamplingParams(temperature=0.7, seed=5)

    first = client.sample(PROMPT, 1, params, phase="plan_sampling")
    again = client.sample(PROMPT, 1, params, phase="plan_sampling")

    assert again == first
    assert len(fake.calls) == 1
    miss, hit = client.ledger.calls
    assert (miss.cached, hit.cached) == (False, True)
    assert (hit.prompt_tokens, hit.completion_tokens) == (
        miss.prompt_tokens,
        miss.completion_tokens,
    )
    assert not hit.estimated


def test_same_seed_and_cache_replay_the_same_run(db: Path) -> None:
    """A model that answers differently each time: the cache makes a rerun identical."""
    texts = ("walk to kitchen", "grab cup", "open fridge", "find soap")
    params = SamplingParams(temperature=1.0, seed=11)

    fake = ScriptedChatModel(respond=always(*texts), supports_n=False, usage="message")
    run = LLMClient(with_cache(fake, db)).sample(PROMPT, 3, params, phase="plan_sampling")
    assert run == list(texts[:3])
    uncached_rerun = LLMClient(fake).sample(PROMPT, 3, params, phase="plan_sampling")
    assert uncached_rerun != run  # the fake moved on

    fresh = ScriptedChatModel(respond=always("something else"), supports_n=False, usage="message")
    replay = LLMClient(with_cache(fresh, SQLiteLLMCache(db)))
    assert replay.sample(PROMPT, 3, params, phase="plan_sampling") == run
    assert fresh.calls == []
    assert all(call.cached for call in replay.ledger.calls)

    other_seed = replay.sample(PROMPT, 3, SamplingParams(temperature=1.0, seed=12), phase="other")
    assert len(fresh.calls) == 1  # seeds 12 and 13 are cached (from seeds 11..13), 14 is new
    assert other_seed[:2] == run[1:]


# -- request-level usage (OpenAI's llm_output) ---------------------------------------------------
class OpenAIStyleModel(ScriptedChatModel):
    """Like ChatOpenAI: usage once per request in llm_output, and the whole request's usage
    copied onto every message's usage_metadata (so summing messages over-counts for n>1)."""

    def _generate(
        self, messages: list[BaseMessage], stop: list[str] | None = None, **kwargs: Any
    ) -> ChatResult:
        result = super()._generate(messages, stop=stop, **kwargs)
        usage = (result.llm_output or {})["token_usage"]
        for generation in result.generations:
            generation.message.usage_metadata = {
                "input_tokens": usage["prompt_tokens"],
                "output_tokens": usage["completion_tokens"],
                "total_tokens": usage["total_tokens"],
            }
        return result


@pytest.mark.parametrize("n", [1, 3])
def test_the_request_usage_is_stored_with_the_entry(db: Path, n: int) -> None:
    fake = OpenAIStyleModel(respond=always("a b", "c"), usage="llm_output")
    llm = with_cache(fake, db)
    generate(llm, n=n)
    hits = generate(llm, n=n)
    assert len(fake.calls) == 1
    assert len(hits) == n
    reported = {
        "prompt_tokens": fake.prompt_tokens,
        "completion_tokens": fake.completion_tokens,
        "total_tokens": fake.prompt_tokens + fake.completion_tokens,
    }
    assert all((g.generation_info or {})[REQUEST_TOKEN_USAGE] == reported for g in hits)


def test_without_the_recorder_entries_are_still_stored(db: Path) -> None:
    fake = ScriptedChatModel(respond=always("a"), usage="llm_output")
    llm = fake.model_copy(update={"cache": SQLiteLLMCache(db)})  # cache= set by hand
    generate(llm, n=2)
    hits = generate(llm, n=2)
    assert len(fake.calls) == 1
    assert all(REQUEST_TOKEN_USAGE not in (g.generation_info or {}) for g in hits)


@pytest.mark.parametrize(
    ("model", "n"),
    [
        (ScriptedChatModel, 1),
        (ScriptedChatModel, 3),
        (OpenAIStyleModel, 1),
        (OpenAIStyleModel, 3),
    ],
)
def test_a_replay_reports_the_original_usage(db: Path, model: type, n: int) -> None:
    fake = model(respond=always("walk to kitchen", "grab cup"), usage="llm_output")
    client = LLMClient(with_cache(fake, db))
    params = SamplingParams(seed=2)
    client.sample(PROMPT, n, params, phase="plan_sampling")
    client.sample(PROMPT, n, params, phase="plan_sampling")
    miss, hit = client.ledger.calls
    assert (miss.cached, hit.cached) == (False, True)
    assert (hit.prompt_tokens, hit.completion_tokens) == (
        fake.prompt_tokens,
        fake.completion_tokens,
    )
    assert (miss.prompt_tokens, miss.completion_tokens) == (
        hit.prompt_tokens,
        hit.completion_tokens,
    )
    assert not hit.estimated


def test_a_replay_without_reported_usage_is_estimated_like_the_original(db: Path) -> None:
    fake = ScriptedChatModel(respond=always("walk to kitchen"), usage="none")
    client = LLMClient(with_cache(fake, db))
    client.sample(PROMPT, 1, SamplingParams(), phase="other")
    client.sample(PROMPT, 1, SamplingParams(), phase="other")
    miss, hit = client.ledger.calls
    assert hit.cached and hit.estimated and miss.estimated
    assert (hit.prompt_tokens, hit.completion_tokens) == (
        miss.prompt_tokens,
        miss.completion_tokens,
    )


# -- concurrency -----------------------------------------------------------------------------------
def _fill(cache: SQLiteLLMCache, tag: str, count: int) -> None:
    for i in range(count):
        generation = ChatGeneration(message=AIMessage(f"{tag} answer {i}"))
        cache.update(f"{tag} prompt {i}", "llm", [generation])
        cache.update(f"shared prompt {i}", "llm", [generation])
        assert cache.lookup(f"{tag} prompt {i}", "llm") is not None


def _check(db: Path, tags: list[str], count: int) -> None:
    cache = SQLiteLLMCache(db)
    assert len(cache) == count * (len(tags) + 1)
    for tag in tags:
        for i in range(count):
            hit = cache.lookup(f"{tag} prompt {i}", "llm")
            assert hit is not None and hit[0].text == f"{tag} answer {i}"
    for i in range(count):
        hit = cache.lookup(f"shared prompt {i}", "llm")
        assert hit is not None and hit[0].text in {f"{tag} answer {i}" for tag in tags}
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


@pytest.mark.parametrize("shared", [True, False], ids=["one-instance", "two-instances"])
def test_two_threads_writing_do_not_corrupt(db: Path, shared: bool) -> None:
    caches = [SQLiteLLMCache(db)] * 2 if shared else [SQLiteLLMCache(db), SQLiteLLMCache(db)]
    errors: list[BaseException] = []

    def work(cache: SQLiteLLMCache, tag: str) -> None:
        try:
            _fill(cache, tag, 100)
        except BaseException as exc:
            errors.append(exc)

    pairs = zip(caches, "AB", strict=True)
    threads = [threading.Thread(target=work, args=pair) for pair in pairs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    _check(db, ["A", "B"], 100)


def test_a_cached_model_shared_by_two_threads(db: Path) -> None:
    fake = ScriptedChatModel(respond=lambda prompt: f"answer to {prompt}", usage="message")
    llm = with_cache(fake, db)
    prompts = [f"prompt {i}" for i in range(40)]
    results: dict[str, list[str]] = {}

    def work(name: str) -> None:
        results[name] = [generate(llm, p)[0].text for p in prompts]

    threads = [threading.Thread(target=work, args=(name,)) for name in "AB"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results["A"] == results["B"] == [f"answer to {p}" for p in prompts]
    assert 40 <= len(fake.calls) <= 80  # a prompt both threads missed at once is asked twice
    assert len(SQLiteLLMCache(db)) == 40


def test_two_processes_writing_do_not_corrupt(db: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_llm_cache import _fill
        from planner.llm_cache import SQLiteLLMCache
        _fill(SQLiteLLMCache(sys.argv[1]), sys.argv[2], 100)
        """
    )
    SQLiteLLMCache(db)  # create the file first; both then append
    workers = [
        subprocess.Popen([sys.executable, "-c", script, str(db), tag], stderr=subprocess.PIPE)
        for tag in "AB"
    ]
    for worker in workers:
        _, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err.decode()
    _check(db, ["A", "B"], 100)


def test_totals_tell_replayed_tokens_from_spent_ones(db: Path) -> None:
    fake = ScriptedChatModel(respond=always("walk to kitchen"), usage="llm_output")
    client = LLMClient(with_cache(fake, db))
    client.sample(PROMPT, 1, SamplingParams(seed=1), phase="plan_sampling")
    client.sample(PROMPT, 1, SamplingParams(seed=1), phase="plan_sampling")
    client.sample(PROMPT, 1, SamplingParams(seed=2), phase="deciding")

    totals = client.ledger.totals()
    spent = fake.prompt_tokens + fake.completion_tokens
    assert (totals.calls, totals.replayed_calls) == (3, 1)
    assert totals.spent_tokens == spent
    first = client.ledger.calls[0]
    assert totals.replayed_tokens == first.prompt_tokens + first.completion_tokens
    assert totals.total_tokens == spent + totals.replayed_tokens
    assert client.ledger.totals("deciding").replayed_calls == 0
