"""An on-disk cache of LLM responses: the same request twice is answered once.

`SQLiteLLMCache` is a langchain-core `BaseCache` kept in one SQLite file, so any `BaseChatModel`
uses it through its `cache=` field; `with_cache(llm, path)` returns such a copy of a model.
With a cache, a run repeated with the same seed gets the same answers without asking the model
again: the key is the prompt together with langchain-core's `llm_string`, which holds the
model's identity and every call parameter (temperature, top_p, max_tokens, seed, n, stop, ...),
so a different seed or temperature is a different entry.

- The key is the sha256 of (prompt, llm_string); the raw `llm_string` and the prompt are stored
  beside it for inspection. Values are the generations as JSON (message dicts from
  `message_to_dict`, with `usage_metadata` and `response_metadata`, and `generation_info`).
- Every generation returned by `lookup` is marked as served from the cache:
  `generation_info["cached"]` and `message.response_metadata["cached"]` are True (this is what
  `LLMClient` records as `LLMCall.cached`). The original `usage_metadata` is kept, so tokens
  served from the cache can be reported apart from tokens spent (langchain-core adds
  `"total_cost": 0` to it on every hit).
- A request's usage as the provider reported it once per request (`llm_output["token_usage"]`,
  e.g. OpenAI's, which `generate` does not hand to the cache) is added to the entry as
  `generation_info["request_token_usage"]` by a callback that `with_cache` installs
  (`SQLiteLLMCache.usage_recorder`), so a replay can report the figures of the original call.
- The first answer stored for a key stays (a second writer of the same key is ignored), so every
  later replay of that request sees the same answer.
- Thread-safe (one connection per process, used under a lock) and safe for several processes
  sharing the file (WAL journal, busy timeout). Async methods run the sync ones in an executor
  (the `BaseCache` defaults).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from langchain_core.caches import RETURN_VAL_TYPE, BaseCache
from langchain_core.callbacks import BaseCallbackHandler, BaseCallbackManager, Callbacks
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import message_to_dict, messages_from_dict
from langchain_core.outputs import ChatGeneration, Generation, LLMResult

log = logging.getLogger(__name__)

CACHED = "cached"
"""The flag set in `generation_info` and `response_metadata` of every generation from the cache."""

REQUEST_TOKEN_USAGE = "request_token_usage"
"""`generation_info` key of the request's `llm_output["token_usage"]`, stored with the entry."""

SCHEMA_VERSION = 1
_MAX_PENDING = 256  # stored entries waiting for their request's usage (see usage_recorder)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS llm_cache (
    key TEXT PRIMARY KEY,
    llm_string TEXT NOT NULL,
    prompt TEXT NOT NULL,
    generations TEXT NOT NULL,
    created REAL NOT NULL
)
"""

ModelT = TypeVar("ModelT", bound=BaseChatModel)


def cache_key(prompt: str, llm_string: str) -> str:
    """The entry key of a request: sha256 of the (prompt, llm_string) pair, in hex."""
    pair = json.dumps([prompt, llm_string], ensure_ascii=False)
    return hashlib.sha256(pair.encode("utf-8")).hexdigest()


class SQLiteLLMCache(BaseCache):
    """A langchain-core `BaseCache` in a SQLite file (created with its folder if missing)."""

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self._init_state()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._connection()

    def _init_state(self) -> None:
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid: int | None = None
        self._track_usage = False
        self._recorder: _RequestUsageRecorder | None = None
        # id(first generation) -> (that generation, key, stored JSON), until on_llm_end
        self._pending: OrderedDict[int, tuple[Generation, str, str]] = OrderedDict()

    # -- BaseCache --------------------------------------------------------------------------
    def lookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        """The generations stored for this request, each marked `cached`; None on a miss."""
        key = cache_key(prompt, llm_string)
        with self._lock:
            row = (
                self._connection()
                .execute("SELECT generations FROM llm_cache WHERE key = ?", (key,))
                .fetchone()
            )
            if row is None:
                return None
            try:
                return _decode(row[0])
            except (ValueError, KeyError, TypeError) as exc:
                # An entry we cannot read is a miss; drop it so the fresh answer is stored.
                log.warning("dropping unreadable LLM cache entry %s: %s", key, exc)
                self._write("DELETE FROM llm_cache WHERE key = ?", (key,))
                return None

    def update(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
        """Store the generations of a request (unless the key already has an entry)."""
        text = _encode(return_val)
        if text is None:
            log.debug("LLM response not cached: it does not serialize to JSON")
            return
        key = cache_key(prompt, llm_string)
        with self._lock:
            inserted = self._write(
                "INSERT OR IGNORE INTO llm_cache (key, llm_string, prompt, generations, created)"
                " VALUES (?, ?, ?, ?, ?)",
                (key, llm_string, prompt, text, time.time()),
            )
            if inserted and self._track_usage and return_val:
                first = return_val[0]
                self._pending[id(first)] = (first, key, text)
                while len(self._pending) > _MAX_PENDING:
                    self._pending.popitem(last=False)

    def clear(self, **kwargs: Any) -> None:
        """Delete every entry."""
        with self._lock:
            self._write("DELETE FROM llm_cache", ())
            self._pending.clear()

    # -- inspection -------------------------------------------------------------------------
    def __len__(self) -> int:
        with self._lock:
            row = self._connection().execute("SELECT COUNT(*) FROM llm_cache").fetchone()
        return int(row[0])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"

    def close(self) -> None:
        """Close this process's connection (it is reopened on the next use)."""
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    # -- request-level usage ----------------------------------------------------------------
    @property
    def usage_recorder(self) -> BaseCallbackHandler:
        """A callback that adds each request's `llm_output["token_usage"]` to its new entry.

        `BaseChatModel.generate` hands the cache only the generations; the provider's
        per-request usage (OpenAI's, including for `n>1`) reaches callbacks in `on_llm_end`.
        Install it on the cached model's callbacks (`with_cache` does).
        """
        with self._lock:
            if self._recorder is None:
                self._recorder = _RequestUsageRecorder(self)
            self._track_usage = True
            return self._recorder

    def _record_request_usage(self, generations: Sequence[Generation], usage: Any) -> None:
        if not generations:
            return
        with self._lock:
            pending = self._pending.pop(id(generations[0]), None)
            if pending is None or pending[0] is not generations[0]:
                return
            if not isinstance(usage, dict) or not usage:
                return
            _, key, stored = pending
            items = json.loads(stored)
            for item in items:
                item["generation_info"] = {**item["generation_info"], REQUEST_TOKEN_USAGE: usage}
            try:
                patched = json.dumps(items, ensure_ascii=False, allow_nan=False)
            except (TypeError, ValueError):
                return
            self._write(
                "UPDATE llm_cache SET generations = ? WHERE key = ? AND generations = ?",
                (patched, key, stored),
            )

    # -- connection -------------------------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        """This process's connection (a forked child opens its own); call under the lock."""
        if self._conn is None or self._pid != os.getpid():
            conn = sqlite3.connect(
                self.path, timeout=self.timeout, check_same_thread=False, isolation_level=None
            )
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute(_SCHEMA)
            if conn.execute("PRAGMA user_version").fetchone()[0] == 0:
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def _write(self, sql: str, params: tuple[Any, ...]) -> bool:
        """Run one write statement in its own transaction; True if it changed a row."""
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            changed = conn.execute(sql, params).rowcount > 0
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return changed

    # -- pickling (e.g. a model sent to another process) -------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "timeout": self.timeout}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.path = state["path"]
        self.timeout = state["timeout"]
        self._init_state()


class _RequestUsageRecorder(BaseCallbackHandler):
    """Hands each request's `llm_output["token_usage"]` to the cache that stored its answer."""

    run_inline = True  # in the caller's thread, before generate() returns

    def __init__(self, cache: SQLiteLLMCache) -> None:
        self.cache = cache

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        usage = (response.llm_output or {}).get("token_usage")
        for generations in response.generations:
            self.cache._record_request_usage(generations, usage)


def with_cache(llm: ModelT, path: str | os.PathLike[str] | SQLiteLLMCache) -> ModelT:
    """A copy of `llm` whose responses are cached in the SQLite file `path`.

    `path` may also be an open `SQLiteLLMCache` (to share one between models). The copy also
    carries the cache's `usage_recorder` callback, added to the model's own callbacks; `llm`
    itself is left unchanged. Only `generate`/`invoke` calls go through the cache (not, e.g.,
    `LocalChatModel.score_continuations`).
    """
    cache = path if isinstance(path, SQLiteLLMCache) else SQLiteLLMCache(path)
    callbacks = _with_handler(llm.callbacks, cache.usage_recorder)
    return llm.model_copy(update={"cache": cache, "callbacks": callbacks})


def _with_handler(callbacks: Callbacks, handler: BaseCallbackHandler) -> Callbacks:
    if callbacks is None:
        return [handler]
    if isinstance(callbacks, BaseCallbackManager):
        manager = callbacks.copy()
        manager.add_handler(handler, inherit=False)
        return manager
    return [*callbacks, handler] if handler not in callbacks else list(callbacks)


# -- serialization ------------------------------------------------------------------------------
def _encode(generations: Sequence[Generation]) -> str | None:
    """The JSON of `generations` (without our `cached` marks), or None if it has none."""
    items: list[dict[str, Any]] = []
    for generation in generations:
        info = {k: v for k, v in (generation.generation_info or {}).items() if k != CACHED}
        if isinstance(generation, ChatGeneration):
            message = message_to_dict(generation.message)
            data = message["data"]
            data["response_metadata"] = {
                k: v for k, v in (data.get("response_metadata") or {}).items() if k != CACHED
            }
            items.append({"kind": "chat", "message": message, "generation_info": info})
        else:
            items.append({"kind": "text", "text": generation.text, "generation_info": info})
    try:
        return json.dumps(items, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        return None


def _decode(text: str) -> list[Generation]:
    """Generations of a stored entry, each marked as served from the cache."""
    generations: list[Generation] = []
    for item in json.loads(text):
        info = {**(item.get("generation_info") or {}), CACHED: True}
        if item["kind"] == "chat":
            message = messages_from_dict([item["message"]])[0]
            message.response_metadata = {**message.response_metadata, CACHED: True}
            generations.append(ChatGeneration(message=message, generation_info=info))
        elif item["kind"] == "text":
            generations.append(Generation(text=item["text"], generation_info=info))
        else:
            raise ValueError(f"unknown generation kind {item['kind']!r}")
    return generations
