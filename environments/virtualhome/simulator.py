"""Thin, safe access to virtualhome-eval's evolving-graph simulator.

Importing the simulator seeds Python's global RNG (`random.seed(123)` in its `utils`); we import
it once, lazily, and put the caller's RNG state back. Every exception a step raises becomes a
failed step with its message.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any

from environments.errors import SimulatorMissingError
from environments.virtualhome.data import INSTALL_HINT, package_root


@dataclass(frozen=True)
class SimulatorModules:
    """The simulator modules we use, imported together."""

    environment: ModuleType
    execution: ModuleType
    scripts: ModuleType


@cache
def simulator() -> SimulatorModules:
    """Import the simulator once, leaving the global RNG as it was."""
    package_root()  # raises SimulatorMissingError with the install command
    rng_state = random.getstate()
    try:
        from virtualhome_eval.simulation.evolving_graph import environment, execution, scripts
    except ImportError as exc:  # pragma: no cover - a broken install
        raise SimulatorMissingError(
            f"the VirtualHome simulator failed to import ({exc}); reinstall with: {INSTALL_HINT}"
        ) from exc
    finally:
        random.setstate(rng_state)
    return SimulatorModules(environment, execution, scripts)


def build_graph(graph_dict: dict) -> Any:
    """An immutable `EnvironmentGraph` for a task's initial scene."""
    return simulator().environment.EnvironmentGraph(graph_dict)


def initial_state(graph: Any, name_equivalence: dict) -> Any:
    """A persistent `EnvironmentState` where `(N)` in a step is the node id N."""
    return simulator().environment.EnvironmentState(
        graph, name_equivalence, instance_selection=True
    )


def execute(
    state: Any, action: str, args: list[tuple[str, int]], index: int = 0
) -> tuple[bool, Any, str]:
    """Run one step on `state`; returns (success, next state or the same state, message).

    `state` is never modified: the simulator forks a new state for every successful step.
    """
    sim = simulator()
    try:
        line = sim.scripts.ScriptLine(
            sim.scripts.Action[action],
            [sim.scripts.ScriptObject(name, node_id) for name, node_id in args],
            index,
        )
        info = sim.execution.ExecutionInfo()
        executor = sim.execution.ScriptExecutor.call_action_method
        next_state = next(executor(sim.scripts.Script([line]), state, info, 0), None)
    except Exception as exc:  # the simulator raises on some bad inputs: a failed step
        return False, state, f"{type(exc).__name__}: {exc}".strip()
    if next_state is None:
        return False, state, info.get_error_string() or "the step could not be executed"
    return True, next_state, ""
