"""Typed plan steps and their canonical text form."""

from __future__ import annotations

from dataclasses import dataclass

END_ACTION = "END"


@dataclass(frozen=True, slots=True, order=True)
class ObjectRef:
    """An object argument: class name and scene node id (None until grounded)."""

    name: str
    id: int | None = None

    def render(self) -> str:
        """`<name> (id)`, or `<name>` while ungrounded."""
        return f"<{self.name}>" if self.id is None else f"<{self.name}> ({self.id})"

    def __str__(self) -> str:
        return self.render()


@dataclass(frozen=True, slots=True, order=True)
class Step:
    """One skill applied to its object arguments, e.g. `[Walk] <tv> (248)`."""

    action: str
    args: tuple[ObjectRef, ...] = ()

    def render(self) -> str:
        """Canonical text: `[Action] <name> (id) ...`."""
        return " ".join([f"[{self.action}]", *(a.render() for a in self.args)])

    @property
    def is_end(self) -> bool:
        """True for the `[END]` marker that closes every plan in an action tree."""
        return self.action == END_ACTION

    @property
    def grounded(self) -> bool:
        """True when every argument names a scene node id."""
        return all(a.id is not None for a in self.args)

    def __str__(self) -> str:
        return self.render()


END_STEP = Step(END_ACTION)
