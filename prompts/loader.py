"""Load prompt templates by environment and name; fill them with `string.Template` syntax."""

from __future__ import annotations

from functools import cache
from importlib import resources
from string import Template

from skills.errors import TreePlannerError


@cache
def load_text(environment: str, name: str) -> str:
    """The text of `prompts/<environment>/<name>` (falls back to `prompts/default/<name>`)."""
    root = resources.files("prompts")
    for folder in (environment, "default"):
        path = root.joinpath(folder, name)
        if path.is_file():
            return path.read_text("utf-8")
    raise TreePlannerError(f"no prompt {name!r} for environment {environment!r}")


def render(environment: str, name: str, **fields: object) -> str:
    """Fill the template `name` (without `.txt`); a missing field is an error, not a blank."""
    template = Template(load_text(environment, f"{name}.txt"))
    try:
        return template.substitute({k: str(v) for k, v in fields.items()})
    except KeyError as exc:
        raise TreePlannerError(f"prompt {name!r} needs the field {exc.args[0]!r}") from exc
