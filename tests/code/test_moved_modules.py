"""Models pickled before the package was grouped by stage still load.

A stored model names its classes by module path (``stroke_risk.lean.LeanModel``, ...). The
pickles here name the old paths exactly as a store written before the move does.
"""

from __future__ import annotations

import pickle

import pytest

from stroke_risk._moved_modules import MOVED
from stroke_risk.scoring.lean import LeanModel
from stroke_risk.training.families import MarginXGBClassifier
from stroke_risk.training.features import HotDeckImputer
from tests.code.test_architecture import fresh_interpreter_output


@pytest.mark.parametrize(
    ("cls", "old_module"),
    [
        (LeanModel, "stroke_risk.lean"),
        (HotDeckImputer, "stroke_risk.features"),
        (MarginXGBClassifier, "stroke_risk.models"),
    ],
)
def test_a_class_pickled_under_its_old_module_loads_as_the_new_class(
    cls: type, old_module: str
) -> None:
    current = pickle.dumps(cls, protocol=0)  # text protocol: b"c<module>\n<name>\n."
    old = current.replace(cls.__module__.encode(), old_module.encode())
    assert old != current and old_module.encode() in old  # premise: the old path is named
    assert pickle.loads(old) is cls


def test_a_fitted_imputer_pickled_under_the_old_path_keeps_its_state() -> None:
    imputer = HotDeckImputer(random_state=3)
    imputer.fit([[1.0], [2.0], [float("nan")]])
    current = pickle.dumps(imputer, protocol=0)
    old = current.replace(b"stroke_risk.training.features", b"stroke_risk.features")
    loaded = pickle.loads(old)
    assert type(loaded) is HotDeckImputer
    assert loaded.__dict__.keys() == imputer.__dict__.keys()


def test_old_paths_resolve_lazily_in_a_fresh_interpreter() -> None:
    """Importing the package alone loads none of the moved modules (nor scikit-learn)."""
    code = (
        "import sys, stroke_risk; "
        "print('sklearn' in sys.modules, 'stroke_risk.training.families' in sys.modules); "
        "import stroke_risk.models as m, stroke_risk.training.families as f; print(m is f)"
    )
    assert fresh_interpreter_output(code).split() == ["False", "False", "True"]


def test_only_modules_named_by_stored_models_are_aliased() -> None:
    assert set(MOVED) == {"stroke_risk.lean", "stroke_risk.features", "stroke_risk.models"}
