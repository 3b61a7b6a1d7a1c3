"""Plan text -> typed steps, tolerant of the usual ways models write them.

Accepted variants: `[Walk] <tv> (248)`, `[WALK] <tv> (1.248)` (script instance 1, node 248),
`1. [walk] <tv> (248)`, `Step 2: [Walk] <tv> (248)`, `- [Walk] < tv > ( 248 )`. Errors name the
line and the reason (see `PlanParseError.kind`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from skills.errors import PlanParseError
from skills.step import ObjectRef, Step
from skills.vocabulary import SkillVocabulary

_PREFIX = re.compile(r"^\s*(?:(?:step\s*)?\d+\s*[.):]\s*|[-*•]\s*)?", re.IGNORECASE)
_ACTION = re.compile(r"\[\s*([A-Za-z][A-Za-z_ ]*?)\s*\]")
_ARG = re.compile(r"\s*<\s*([^<>()\[\]]+?)\s*>\s*(?:\(\s*(?:\d+\s*\.\s*)?(\d+)\s*\))?")
_TRAILER = re.compile(r"^[\s,.;]*$")


def normalise_name(name: str) -> str:
    """Object class names as the scene spells them: lower case, underscores for spaces."""
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def parse_step(
    line: str,
    vocabulary: SkillVocabulary,
    objects: Mapping[int, str] | None = None,
    *,
    line_no: int | None = None,
) -> Step:
    """Parse one plan line into a `Step` in the vocabulary's canonical names.

    With `objects` (node id -> class name), every argument must name a scene object: an id wins
    over the written name (`<tv> (248)` becomes `<television> (248)`); a name without an id is
    accepted only when exactly one scene object has it.

    >>> from skills import load_vocabulary
    >>> parse_step("1. [walk] <TV> (1.248)", load_vocabulary("virtualhome")).render()
    '[Walk] <tv> (248)'
    """
    body = _PREFIX.sub("", line, count=1)
    match = _ACTION.match(body)
    if match is None:
        raise PlanParseError("unparseable", line, "expected `[Action] <object> (id)`", line_no)
    skill = vocabulary.get(match.group(1))
    if skill is None:
        raise PlanParseError(
            "unknown_action", line, f"{match.group(1)!r} is not a {vocabulary.name} skill", line_no
        )
    args: list[ObjectRef] = []
    pos = match.end()
    while (arg := _ARG.match(body, pos)) is not None:
        args.append(ObjectRef(normalise_name(arg.group(1)), _int_or_none(arg.group(2))))
        pos = arg.end()
    if not _TRAILER.match(body[pos:]):
        raise PlanParseError(
            "unparseable", line, f"unexpected text {body[pos:].strip()!r}", line_no
        )
    if len(args) != skill.arity:
        raise PlanParseError(
            "wrong_arity",
            line,
            f"[{skill.name}] takes {skill.arity} object(s), got {len(args)}",
            line_no,
        )
    if objects is not None:
        args = [_resolve(arg, objects, line, line_no) for arg in args]
    return Step(skill.name, tuple(args))


def parse_plan(
    text: str | Iterable[str],
    vocabulary: SkillVocabulary,
    objects: Mapping[int, str] | None = None,
) -> list[Step]:
    """Parse every step line of a plan; blank lines and lines without `[` are skipped."""
    lines = text.splitlines() if isinstance(text, str) else list(text)
    steps = []
    for number, line in enumerate(lines, start=1):
        if "[" not in line or line.lstrip().startswith("#"):
            continue
        steps.append(parse_step(line, vocabulary, objects, line_no=number))
    return steps


def render_plan(steps: Iterable[Step]) -> str:
    """Canonical plan text, one step per line."""
    return "\n".join(step.render() for step in steps)


def _int_or_none(text: str | None) -> int | None:
    return None if text is None else int(text)


def _resolve(
    arg: ObjectRef, objects: Mapping[int, str], line: str, line_no: int | None
) -> ObjectRef:
    if arg.id is not None:
        if arg.id not in objects:
            raise PlanParseError(
                "unknown_object", line, f"no object with id {arg.id} in the scene", line_no
            )
        return ObjectRef(objects[arg.id], arg.id)
    matches = [node_id for node_id, name in objects.items() if name == arg.name]
    if len(matches) == 1:
        return ObjectRef(arg.name, matches[0])
    reason = (
        f"no object called <{arg.name}> in the scene"
        if not matches
        else f"<{arg.name}> is ambiguous: give one of the ids {sorted(matches)[:8]}"
    )
    raise PlanParseError("unknown_object", line, reason, line_no)
