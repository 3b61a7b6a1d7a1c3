"""Ground the objects a model names to scene objects, by a documented rule.

For an argument `<name> (id)`:
1. the id exists and its object is called `name` (or a synonym of it): that object;
2. scene objects are called `name` exactly (or by a synonym): the one whose id is nearest the
   written id (the lowest id when none is written);
3. the id exists (the name is unknown): that object, since the model named it by id;
4. the scene name most similar to `name` (difflib ratio >= `min_similarity`), then as in 2;
5. otherwise the object cannot be grounded (the plan is dropped with reason `unknown_object`).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping

from skills import ObjectRef, Step, normalise_name


class ObjectGrounder:
    """Maps written object references to scene objects (see the module docstring)."""

    def __init__(
        self,
        objects: Iterable[ObjectRef],
        synonyms: Mapping[str, Iterable[str]] | None = None,
        min_similarity: float = 0.6,
    ) -> None:
        self._by_id = {o.id: o for o in objects if o.id is not None}
        self._by_name: dict[str, list[int]] = {}
        for obj in self._by_id.values():
            assert obj.id is not None
            self._by_name.setdefault(obj.name, []).append(obj.id)
        self._synonyms: dict[str, list[str]] = {}
        for name, aliases in (synonyms or {}).items():
            key = normalise_name(name)
            for alias in (normalise_name(a) for a in aliases):
                # Tables list a scene name with its aliases: look them up in both directions.
                self._synonyms.setdefault(key, []).append(alias)
                self._synonyms.setdefault(alias, []).append(key)
        self._min_similarity = min_similarity
        self._similar: dict[str, str | None] = {}

    def ground(self, ref: ObjectRef) -> ObjectRef | None:
        """The scene object `ref` denotes, or None."""
        name = normalise_name(ref.name)
        names = [name, *self._synonyms.get(name, [])]
        known = self._by_id.get(ref.id) if ref.id is not None else None
        if known is not None and known.name in names:
            return known
        for candidate in names:
            if candidate in self._by_name:
                return self._nearest(candidate, ref.id)
        if known is not None:
            return known
        similar = self._most_similar(name)
        return None if similar is None else self._nearest(similar, ref.id)

    def ground_step(self, step: Step) -> Step | None:
        """`step` with every argument grounded, or None if one cannot be."""
        args = []
        for arg in step.args:
            grounded = self.ground(arg)
            if grounded is None:
                return None
            args.append(grounded)
        return Step(step.action, tuple(args))

    def _nearest(self, name: str, written_id: int | None) -> ObjectRef:
        ids = self._by_name[name]
        best = min(ids) if written_id is None else min(ids, key=lambda i: (abs(i - written_id), i))
        return self._by_id[best]

    def _most_similar(self, name: str) -> str | None:
        if name not in self._similar:
            matches = difflib.get_close_matches(
                name, self._by_name, n=1, cutoff=self._min_similarity
            )
            self._similar[name] = matches[0] if matches else None
        return self._similar[name]
