"""Old module paths that models pickled before the package was grouped by stage still name.

A model in a BentoML store is a pickle: it records each class by module path, such as
``stroke_risk.lean.LeanModel`` or ``stroke_risk.features.HotDeckImputer``. Those modules
now live in sub-packages. Rather than keeping empty shims at the top of the package, an
import of an old path is answered with the module at its new one, and only when asked
for, so nothing here imports scikit-learn unless an old pipeline pickle needs it.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from collections.abc import Sequence
from types import ModuleType

# Old module -> new module; only those whose classes or functions appear in stored models
# (checked by reading a store written before the move: custom_objects.pkl names
# ``stroke_risk.lean``, saved_model.pkl ``stroke_risk.features`` and ``stroke_risk.models``).
MOVED: dict[str, str] = {
    "stroke_risk.lean": "stroke_risk.scoring.lean",
    "stroke_risk.features": "stroke_risk.training.features",
    "stroke_risk.models": "stroke_risk.training.families",
}


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return importlib.import_module(self.target)

    def exec_module(self, module: ModuleType) -> None:
        """The target module is already executed; the old name just points at it."""


class _MovedModuleFinder(importlib.abc.MetaPathFinder):
    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        new = MOVED.get(fullname)
        if new is None:
            return None
        return importlib.util.spec_from_loader(fullname, _AliasLoader(new))


def install() -> None:
    """Answer imports of the old paths (idempotent)."""
    if not any(isinstance(finder, _MovedModuleFinder) for finder in sys.meta_path):
        sys.meta_path.append(_MovedModuleFinder())
