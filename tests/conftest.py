"""Shared fixtures: one VirtualHome environment for the whole session (task data is cached)."""

from __future__ import annotations

import pytest

from environments.virtualhome import VirtualHomeEnv
from skills import SkillVocabulary, load_vocabulary

WASH_CLOTHES = "27_2"


@pytest.fixture(scope="session")
def vocabulary() -> SkillVocabulary:
    return load_vocabulary("virtualhome")


@pytest.fixture(scope="session")
def env() -> VirtualHomeEnv:
    """One environment shared by every test; tests that step must `reset` it first."""
    return VirtualHomeEnv()


@pytest.fixture
def wash_clothes(env: VirtualHomeEnv) -> VirtualHomeEnv:
    """The session environment, freshly reset to task 27_2 (Wash clothes)."""
    env.reset(WASH_CLOTHES)
    return env
