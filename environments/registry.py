"""Environments by name, so the CLI and configs can say `virtualhome`."""

from __future__ import annotations

from collections.abc import Callable

from environments.errors import EnvironmentError_
from environments.protocol import Environment


def _virtualhome() -> Environment:
    from environments.virtualhome import VirtualHomeEnv

    return VirtualHomeEnv()


ENVIRONMENTS: dict[str, Callable[[], Environment]] = {"virtualhome": _virtualhome}


def make_env(name: str = "virtualhome") -> Environment:
    """Build an environment by name; unknown names raise an error that lists the known ones."""
    try:
        factory = ENVIRONMENTS[name]
    except KeyError:
        known = ", ".join(sorted(ENVIRONMENTS))
        raise EnvironmentError_(f"unknown environment {name!r}; known: {known}") from None
    return factory()
