"""Errors raised by environments (all children of `TreePlannerError`)."""

from skills.errors import TreePlannerError


class EnvironmentError_(TreePlannerError):
    """An environment cannot do what was asked (not an ordinary failed step)."""


class UnknownTaskError(EnvironmentError_, KeyError):
    """The task id is not one this environment offers."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown task"


class SimulatorMissingError(EnvironmentError_, ImportError):
    """The simulator package is not installed; the message says how to install it."""


class NotResetError(EnvironmentError_, RuntimeError):
    """`step`/`observe`/`score` was called before `reset`."""
