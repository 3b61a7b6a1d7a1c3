"""Skill vocabularies: the actions plans are written in, and plan text <-> typed steps."""

from skills.errors import PlanParseError, TreePlannerError
from skills.grammar import choice_grammar, plan_grammar, step_grammar
from skills.parser import normalise_name, parse_plan, parse_step, render_plan
from skills.step import END_STEP, ObjectRef, Step
from skills.vocabulary import Skill, SkillVocabulary, action_key, load_vocabulary

__all__ = [
    "END_STEP",
    "ObjectRef",
    "PlanParseError",
    "Skill",
    "SkillVocabulary",
    "Step",
    "TreePlannerError",
    "action_key",
    "choice_grammar",
    "load_vocabulary",
    "normalise_name",
    "parse_plan",
    "parse_step",
    "plan_grammar",
    "render_plan",
    "step_grammar",
]
