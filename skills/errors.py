"""The root of treeplanner's error tree and the errors of plan text."""

from __future__ import annotations

from typing import Literal

ParseErrorKind = Literal["unparseable", "unknown_action", "wrong_arity", "unknown_object"]


class TreePlannerError(Exception):
    """Root of every error treeplanner raises on purpose; the CLI prints these as one line."""


class PlanParseError(TreePlannerError, ValueError):
    """A plan line that cannot become a step: names the line, its number and the reason."""

    def __init__(self, kind: ParseErrorKind, line: str, reason: str, line_no: int | None = None):
        self.kind: ParseErrorKind = kind
        self.line = line
        self.reason = reason
        self.line_no = line_no
        where = f"line {line_no}" if line_no is not None else "line"
        super().__init__(f"{where} {line.strip()!r}: {kind.replace('_', ' ')}: {reason}")
