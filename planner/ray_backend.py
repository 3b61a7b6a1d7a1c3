"""Episodes on a Ray cluster: `RAY_ADDRESS` if set, else a local Ray with `workers` CPUs.

The driver keeps writing `episodes.jsonl` itself, so the files are the same as with asyncio.
Each Ray worker process builds its environment and model once and reuses them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from planner.bench_runner import BenchConfig, EpisodeKey, build_llm, run_one
from planner.errors import PlannerError
from planner.summary import EpisodeRecord

_WORKER_STATE: dict[str, Any] = {}


def _episode(config_json: str, key: tuple[str, str, int, str]) -> str:
    """Run one episode inside a Ray worker; returns the record as JSON."""
    from environments import make_env

    config = BenchConfig.model_validate_json(config_json)
    if _WORKER_STATE.get("config") != config_json:
        _WORKER_STATE.update(config=config_json, env=make_env(config.env), llm=build_llm(config))
    record = run_one(config, EpisodeKey(*key), _WORKER_STATE["env"], _WORKER_STATE["llm"])
    return record.model_dump_json()


def run_ray(
    config: BenchConfig, keys: list[EpisodeKey], sink: Callable[[EpisodeRecord], None]
) -> None:
    """Run `keys` on Ray, at most `2 * workers` in flight, feeding each record to `sink`."""
    try:
        import ray
    except ImportError as exc:
        raise PlannerError("the ray backend needs Ray: pip install 'treeplanner[ray]'") from exc
    address = os.environ.get("RAY_ADDRESS")
    if not ray.is_initialized():
        ray.init(
            address=address or None,
            num_cpus=None if address else max(1, config.workers),
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    remote = ray.remote(num_cpus=1)(_episode)
    config_json = config.model_dump_json()
    todo = list(keys)
    in_flight: list[Any] = []
    limit = 2 * max(1, config.workers)
    while todo or in_flight:
        while todo and len(in_flight) < limit:
            key = todo.pop(0)
            in_flight.append(
                remote.remote(config_json, (key.method, key.task, key.seed, key.plans))
            )
        ready, in_flight = ray.wait(in_flight, num_returns=1)
        for ref in ready:
            sink(EpisodeRecord.model_validate_json(ray.get(ref)))
