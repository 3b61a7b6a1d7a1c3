"""treeplanner's algorithms: plan sampling, action trees, grounded deciding, and the LLM layer."""

from planner.choice import Choice, Chooser, VoteChooser, parse_choice
from planner.deciding import DecisionConfig, DecisionTrace, ExecutedStep, grounded_decide
from planner.errors import (
    BudgetExhaustedError,
    LLMConfigError,
    LLMConnectionError,
    LLMError,
    PlannerError,
)
from planner.grounding import ObjectGrounder
from planner.ledger import LLMCall, TokenLedger, TokenTotals
from planner.llm_client import LLMClient, SamplingParams
from planner.llm_factory import make_llm
from planner.plan_sampling import PlanSamples, PlanSamplingConfig, sample_plans
from planner.result import EpisodeResult, TokenReport
from planner.tree import (
    ROOT,
    build_action_tree,
    children,
    path_to,
    prune,
    tree_from_json,
    tree_to_dot,
    tree_to_json,
)
from planner.tree_planner import TreePlanner

__all__ = [
    "ROOT",
    "BudgetExhaustedError",
    "Choice",
    "Chooser",
    "DecisionConfig",
    "DecisionTrace",
    "EpisodeResult",
    "ExecutedStep",
    "LLMCall",
    "LLMClient",
    "LLMConfigError",
    "LLMConnectionError",
    "LLMError",
    "ObjectGrounder",
    "PlanSamples",
    "PlanSamplingConfig",
    "PlannerError",
    "SamplingParams",
    "TokenLedger",
    "TokenReport",
    "TokenTotals",
    "TreePlanner",
    "VoteChooser",
    "build_action_tree",
    "children",
    "grounded_decide",
    "make_llm",
    "parse_choice",
    "path_to",
    "prune",
    "sample_plans",
    "tree_from_json",
    "tree_to_dot",
    "tree_to_json",
]
