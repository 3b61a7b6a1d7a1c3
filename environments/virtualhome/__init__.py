"""VirtualHome (evolving-graph simulator, TrimmedTestScene1) as an `Environment`."""

from environments.virtualhome.env import VirtualHomeEnv, VirtualHomeSnapshot

__all__ = ["VirtualHomeEnv", "VirtualHomeSnapshot"]
