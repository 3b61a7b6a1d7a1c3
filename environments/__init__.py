"""Simulators behind one `Environment` protocol, and their task data."""

from environments.checker import EnvironmentContractError, check_env
from environments.errors import (
    EnvironmentError_,
    NotResetError,
    SimulatorMissingError,
    UnknownTaskError,
)
from environments.protocol import Environment, GoalReport, HasGoldPlans, StepOutcome, Task
from environments.registry import ENVIRONMENTS, make_env

__all__ = [
    "ENVIRONMENTS",
    "Environment",
    "EnvironmentContractError",
    "EnvironmentError_",
    "GoalReport",
    "HasGoldPlans",
    "NotResetError",
    "SimulatorMissingError",
    "StepOutcome",
    "Task",
    "UnknownTaskError",
    "check_env",
    "make_env",
]
