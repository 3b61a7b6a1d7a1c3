"""`EpisodeResult`: everything one planning episode produced, as JSON-ready pydantic data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from environments import GoalReport, Task
from planner.deciding import ExecutedStep, StopReason
from planner.ledger import LLMCall, TokenLedger, TokenTotals


class TokenReport(BaseModel):
    """Tokens of an episode: totals, per phase, and whether any figure is a tiktoken estimate."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    estimated: bool = False
    per_phase: dict[str, TokenTotals] = Field(default_factory=dict)
    calls: list[LLMCall] = Field(default_factory=list)

    @classmethod
    def of(cls, ledger: TokenLedger) -> TokenReport:
        totals = ledger.totals()
        return cls(
            prompt_tokens=totals.prompt_tokens,
            completion_tokens=totals.completion_tokens,
            total_tokens=totals.total_tokens,
            estimated=totals.estimated,
            per_phase=ledger.by_phase(),
            calls=list(ledger.calls),
        )


class EpisodeResult(BaseModel):
    """One episode of a method on a task: steps, metrics, tokens, the tree."""

    task: Task
    method: str
    llm: str = ""
    seed: int = 0
    steps: list[ExecutedStep] = Field(default_factory=list)
    corrections: int = 0
    backtracks: int = 0
    llm_calls: int = 0
    report: GoalReport
    tokens: TokenReport = Field(default_factory=TokenReport)
    wall_time_s: float = 0.0
    stop_reason: StopReason = "end"
    error: str | None = None
    details: dict[str, Any] = Field(default_factory=dict, description="method-specific figures")
    tree: dict[str, Any] | None = None

    @property
    def failed_steps(self) -> list[ExecutedStep]:
        return [s for s in self.steps if not s.success]

    @property
    def success(self) -> bool:
        return self.report.success

    @property
    def executable(self) -> bool:
        return self.report.executable

    @property
    def gcr(self) -> float:
        return self.report.gcr

    def summary(self) -> dict[str, Any]:
        """The headline figures as one flat JSON-ready dict."""
        return {
            "task": self.task.id,
            "method": self.method,
            "success": self.success,
            "executable": self.executable,
            "gcr": round(self.gcr, 4),
            "corrections": self.corrections,
            "backtracks": self.backtracks,
            "llm_calls": self.llm_calls,
            "prompt_tokens": self.tokens.prompt_tokens,
            "completion_tokens": self.tokens.completion_tokens,
            "tokens_estimated": self.tokens.estimated,
            "steps": len(self.steps),
            "stop_reason": self.stop_reason,
            "wall_time_s": round(self.wall_time_s, 3),
            **({"error": self.error} if self.error else {}),
        }

    def write(self, path: str | Path) -> None:
        """Write as JSON."""
        Path(path).write_text(self.model_dump_json(indent=1), "utf-8")

    @classmethod
    def read(cls, path: str | Path) -> EpisodeResult:
        """Read a result written by `write`."""
        return cls.model_validate_json(Path(path).read_text("utf-8"))
