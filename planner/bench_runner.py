"""`treeplanner bench`: many episodes (methods x tasks x seeds), resumable, in parallel.

Each finished episode is appended to `OUT/episodes.jsonl` at once (flushed and synced), so a
killed run loses nothing it finished; `resume` skips the episodes already there. An episode that
raises is recorded with its error and the run goes on. Episodes run on a bounded pool of worker
threads driven by asyncio (one environment per worker), or on a Ray cluster.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from planner.errors import PlannerError
from planner.summary import (
    BenchSummary,
    EpisodeRecord,
    load_prices,
    read_records,
    summarise,
    write_summary,
)

Backend = Literal["asyncio", "ray"]


class BenchConfig(BaseModel):
    """What to run and where to write it (serialisable: Ray workers receive it)."""

    methods: list[str]
    tasks: list[str]
    llm: str = "local"
    base_url: str | None = None
    plans: str = "live"
    seeds: list[int] = Field(default_factory=lambda: [0])
    out: Path
    workers: int = 1
    resume: bool = False
    backend: Backend = "asyncio"
    samples: int | None = None
    votes: int = 20
    choice: str = "auto"
    prior_weight: float = 1.0
    max_corrections: int = 10
    token_budget: int | None = None
    cache: bool = True
    requests_per_second: float | None = None
    prices: Path | None = None
    env: str = "virtualhome"

    @property
    def episodes_path(self) -> Path:
        return self.out / "episodes.jsonl"

    @property
    def cache_path(self) -> Path:
        return self.out / "llm_cache.sqlite"

    def is_local(self) -> bool:
        return self.llm.split(":")[0] == "local"


@dataclass(frozen=True, order=True)
class EpisodeKey:
    """One episode to run."""

    method: str
    task: str
    seed: int
    plans: str


def episode_keys(config: BenchConfig) -> list[EpisodeKey]:
    """Every episode of the run, seeds outermost so early results cover every method."""
    return [
        EpisodeKey(method, task, seed, config.plans)
        for seed in config.seeds
        for task in config.tasks
        for method in config.methods
    ]


def build_llm(config: BenchConfig) -> Any:
    """The chat model of a run, with the disk cache and the rate limit applied."""
    from planner.llm_factory import make_llm

    llm = make_llm(config.llm, base_url=config.base_url)
    if config.requests_per_second:
        from langchain_core.rate_limiters import InMemoryRateLimiter

        llm.rate_limiter = InMemoryRateLimiter(requests_per_second=config.requests_per_second)
    if config.cache:
        from planner.llm_cache import with_cache

        llm = with_cache(llm, config.cache_path)
    return llm


def run_one(config: BenchConfig, key: EpisodeKey, env: Any, llm: Any) -> EpisodeRecord:
    """Run one episode; any exception becomes a record with the error."""
    from planner.methods import default_samples, make_method
    from planner.plan_sources import make_plan_source

    record = EpisodeRecord(method=key.method, task=key.task, seed=key.seed, plans=key.plans)
    try:
        options: dict[str, Any] = {}
        if key.method.startswith("tree-planner"):
            options = {
                "n_samples": config.samples or default_samples(config.llm),
                "votes": config.votes,
                "choice": config.choice,
                "prior_weight": config.prior_weight,
            }
        source = make_plan_source(key.plans)
        if source is not None:
            options["plan_source"] = source
        method = make_method(
            key.method,
            llm,
            seed=key.seed,
            max_corrections=config.max_corrections,
            token_budget=config.token_budget,
            llm_name=config.llm,
            **options,
        )
        record.result = method.run(env, key.task)
    except Exception as exc:  # recorded, and the run goes on
        record.error = f"{type(exc).__name__}: {exc}"
    return record


class JsonlWriter:
    """Appends records to a JSONL file, one flushed and synced line per episode."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        _cut_torn_tail(path)
        self._handle = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()

    def write(self, record: EpisodeRecord) -> None:
        line = record.model_dump_json() + "\n"
        with self._lock:
            self._handle.write(line)
            self._handle.flush()
            os.fsync(self._handle.fileno())

    def close(self) -> None:
        self._handle.close()


def _cut_torn_tail(path: Path) -> None:
    """Drop a last line cut off mid-write (a killed run), so appends start on a fresh line."""
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with path.open("r+b") as handle:
            handle.truncate(data.rfind(b"\n") + 1)


@dataclass
class Progress:
    """A progress bar with ETA on a terminal (tqdm), plain lines otherwise."""

    total: int
    done: int = 0
    started: float = field(default_factory=time.perf_counter)
    _bar: Any = None

    def __post_init__(self) -> None:
        if sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, unit="episode", dynamic_ncols=True)

    def update(self, record: EpisodeRecord) -> None:
        self.done += 1
        if self._bar is not None:
            self._bar.update(1)
            return
        elapsed = time.perf_counter() - self.started
        eta = elapsed / self.done * (self.total - self.done)
        if record.result is not None:
            outcome = f"SR {int(record.result.success)} GCR {record.result.gcr:.2f}"
        else:
            outcome = f"error: {record.error}"
        print(
            f"[{self.done}/{self.total}] {record.method} {record.task} seed {record.seed}: "
            f"{outcome} (ETA {eta:.0f} s)",
            file=sys.stderr,
            flush=True,
        )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def pending(config: BenchConfig) -> list[EpisodeKey]:
    """Episodes still to run: all, or with `resume` those not finished in the JSONL (an episode
    that raised or ended on an LLM error, e.g. an outage, is run again)."""
    keys = episode_keys(config)
    if not config.resume:
        return keys
    done = {
        EpisodeKey(r.method, r.task, r.seed, r.plans)
        for r in read_records(config.episodes_path)
        if r.result is not None and r.result.stop_reason != "error"
    }
    return [k for k in keys if k not in done]


async def _run_asyncio(
    config: BenchConfig, keys: list[EpisodeKey], sink: Callable[[EpisodeRecord], None]
) -> None:
    from environments import make_env

    workers = 1 if config.is_local() else max(1, config.workers)  # llama.cpp is single-stream
    llm = build_llm(config)
    envs: asyncio.Queue[Any] = asyncio.Queue()
    for _ in range(min(workers, len(keys)) or 1):
        envs.put_nowait(make_env(config.env))
    queue: Iterator[EpisodeKey] = iter(keys)

    async def worker() -> None:
        for key in queue:
            env = await envs.get()
            try:
                record = await asyncio.to_thread(run_one, config, key, env, llm)
            finally:
                envs.put_nowait(env)
            sink(record)

    await asyncio.gather(*(worker() for _ in range(min(workers, len(keys)) or 1)))


def run_bench(config: BenchConfig) -> BenchSummary:
    """Run the pending episodes, then write `summary.md`, `summary.csv` and the plots."""
    if config.episodes_path.exists() and not config.resume:
        raise PlannerError(
            f"{config.episodes_path} exists: pass --resume to continue it or choose another --out"
        )
    keys = pending(config)
    writer = JsonlWriter(config.episodes_path)
    progress = Progress(total=len(keys))

    def sink(record: EpisodeRecord) -> None:
        writer.write(record)
        progress.update(record)

    try:
        if config.backend == "ray":
            from planner.ray_backend import run_ray

            run_ray(config, keys, sink)
        else:
            asyncio.run(_run_asyncio(config, keys, sink))
    finally:
        writer.close()
        progress.close()
    return write_reports(config)


def write_reports(config: BenchConfig) -> BenchSummary:
    """Summarise `episodes.jsonl` into `summary.md`, `summary.csv` and PNG plots."""
    if not config.episodes_path.exists():
        raise PlannerError(f"no episodes to summarise: {config.episodes_path} does not exist")
    records = read_records(config.episodes_path)
    summary = summarise(records, load_prices(config.prices))
    write_summary(summary, config.out)
    try:
        from planner.plots import write_plots

        write_plots(records, summary, config.out)
    except ImportError:
        print("treeplanner: matplotlib is not installed; skipping plots", file=sys.stderr)
    return summary
