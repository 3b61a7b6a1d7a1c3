"""VirtualHome (evolving-graph simulator, TrimmedTestScene1) as an `Environment`."""

from environments.virtualhome.env import VirtualHomeEnv, VirtualHomeSnapshot
from environments.virtualhome.recorded import (
    RecordedOutputError,
    RecordedPlan,
    UnknownRecordedModelError,
    parse_recorded_output,
    recorded_models,
    recorded_plan,
    recorded_plans,
    relevant_objects,
)

__all__ = [
    "RecordedOutputError",
    "RecordedPlan",
    "UnknownRecordedModelError",
    "VirtualHomeEnv",
    "VirtualHomeSnapshot",
    "parse_recorded_output",
    "recorded_models",
    "recorded_plan",
    "recorded_plans",
    "relevant_objects",
]
