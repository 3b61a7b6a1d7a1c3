"""Errors of the planner and its LLM layer (children of `TreePlannerError`)."""

from skills.errors import TreePlannerError


class PlannerError(TreePlannerError):
    """The planner cannot go on."""


class LLMError(PlannerError):
    """A language model call failed; the message says why in one line."""


class LLMConfigError(LLMError):
    """Bad LLM spec or settings: unknown provider, missing API key, missing model file."""


class LLMConnectionError(LLMError):
    """The model endpoint cannot be reached."""


class BudgetExhaustedError(LLMError):
    """The token budget is spent; no further call is made."""
