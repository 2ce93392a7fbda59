"""The candidate families: logistic regression keeps the accepted risk directions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

from stroke_risk.core.schema import FEATURES, TARGET
from stroke_risk.training.bootstrap_refits import PREPROCESS_STEP, on_coded_rows
from stroke_risk.training.families import MODEL_STEP, MonotoneLogisticRegression, candidates
from stroke_risk.training.features import (
    build_preprocessor,
    encode_fixed_columns,
    encoded_columns,
    monotone_constraints,
)
from tests.model.fitting import training_split

pytestmark = pytest.mark.slow


def encoded(stroke_data, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A training split as the model step sees it (imputed, scaled, one-hot)."""
    train = training_split(stroke_data, seed)
    return build_preprocessor(seed).fit_transform(train[list(FEATURES)]), train[TARGET].to_numpy()


def column(name: str) -> int:
    return [feature for feature, _ in encoded_columns()].index(name)


def bounded_optimum(X: np.ndarray, y: np.ndarray, C: float, signs: list[int]) -> np.ndarray:  # noqa: N803
    """scikit-learn's L2 objective, minimised by scipy with each coefficient's sign bounded."""

    def loss_and_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:-1], theta[-1]
        z = X @ w + b
        loss = C * np.sum(np.logaddexp(0, z) - y * z) + 0.5 * w @ w
        residual = C * (expit(z) - y)
        return loss, np.append(X.T @ residual + w, residual.sum())

    bounds = [(0, None) if s > 0 else (None, 0) if s < 0 else (None, None) for s in signs]
    result = minimize(
        loss_and_gradient,
        np.zeros(X.shape[1] + 1),
        jac=True,
        method="L-BFGS-B",
        bounds=[*bounds, (None, None)],
        options={"maxiter": 10_000, "ftol": 1e-14, "gtol": 1e-9},
    )
    return result.x[:-1]


# Training splits on which plain logistic regression gives an accepted risk factor the
# wrong sign: BMI on seed 0; heart disease on seed 4 with little regularisation.
@pytest.mark.parametrize(("seed", "C", "factor"), [(0, 0.1, "bmi"), (4, 1.0, "heart_disease")])
def test_a_factor_that_would_come_out_protective_is_held_at_zero(stroke_data, seed, C, factor):  # noqa: N803
    X, y = encoded(stroke_data, seed)  # noqa: N806
    plain = LogisticRegression(C=C, max_iter=2000).fit(X, y)
    assert plain.coef_[0, column(factor)] < 0, "the premise: unconstrained, it goes wrong"

    model = MonotoneLogisticRegression(monotone_constraints(), C=C).fit(X, y)

    assert model.coef_[0, column(factor)] == 0.0
    assert model.held_at_zero_[column(factor)]
    assert np.all(np.asarray(monotone_constraints()) * model.coef_[0] >= 0)


@pytest.mark.parametrize(("seed", "C"), [(0, 0.1), (4, 1.0)])
def test_the_result_is_the_bounded_optimum(stroke_data, seed, C):  # noqa: N803
    X, y = encoded(stroke_data, seed)  # noqa: N806
    model = MonotoneLogisticRegression(monotone_constraints(), C=C, tol=1e-8).fit(X, y)
    expected = bounded_optimum(X, y, C, monotone_constraints())
    np.testing.assert_allclose(model.coef_[0], expected, atol=1e-4)


def test_without_a_binding_direction_it_is_plain_logistic_regression(stroke_data):
    X, y = encoded(stroke_data, seed=1)  # noqa: N806
    plain = LogisticRegression(C=0.1, max_iter=2000).fit(X, y)
    signs = np.asarray(monotone_constraints())
    assert np.all(signs[signs != 0] * plain.coef_[0, signs != 0] > 0)

    model = MonotoneLogisticRegression(monotone_constraints(), C=0.1).fit(X, y)

    np.testing.assert_array_equal(model.coef_, plain.coef_)
    assert not model.held_at_zero_.any()


def test_a_factor_held_at_zero_is_released_when_the_others_make_room():
    """Correlated factors: the first fit gives the first two the wrong sign, yet once the
    third is held at zero they belong above zero. Holding every wrong sign and refitting,
    without ever releasing, would leave them at zero and miss the optimum by far."""
    rng = np.random.default_rng(38)
    mixing = rng.normal(size=(4, 4))
    X = rng.normal(size=(3000, 4)) @ mixing  # noqa: N806
    X = (X - X.mean(axis=0)) / X.std(axis=0)  # noqa: N806
    effects = 1.5 * rng.normal(size=4)
    y = (rng.random(3000) < expit(-2 + X @ effects)).astype(int)
    signs = [1, 1, 1, 0]
    plain = LogisticRegression(C=1.0, max_iter=2000).fit(X, y)
    assert np.all(plain.coef_[0, :3] < 0), "the premise: all three come out wrong at first"

    model = MonotoneLogisticRegression(signs, C=1.0, tol=1e-8).fit(X, y)

    np.testing.assert_allclose(model.coef_[0], bounded_optimum(X, y, 1.0, signs), atol=1e-4)
    assert np.all(model.coef_[0, :2] > 0.5)
    assert model.held_at_zero_.tolist() == [False, False, True, False]


class SolvingEveryRound(MonotoneLogisticRegression):
    """The active set as it ran before solves were reused: every round solves again."""

    def _fit_holding(self, values, y, sample_weight, held, signs, solved):
        return super()._fit_holding(values, y, sample_weight, held, signs, {})


@pytest.fixture(scope="module")
def round_trip(stroke_data) -> tuple[np.ndarray, np.ndarray, dict]:
    """A fit whose active set goes back and forth between two held sets until the round
    limit: the last fit of interval refit 22 of the training procedure (all rows, seed 42,
    C = 0.1), found by counting solves over the 200 refits."""
    candidate = next(c for c in candidates(42) if c.name == "logistic_regression")
    procedure = on_coded_rows(candidate.pipeline).set_params(model__C=0.1)
    seed = np.random.SeedSequence(42).generate_state(23).tolist()[22]
    rows = np.random.default_rng(seed).integers(0, len(stroke_data), len(stroke_data))
    coded = encode_fixed_columns(stroke_data)[rows]
    X = clone(procedure.named_steps[PREPROCESS_STEP]).fit_transform(coded)  # noqa: N806
    return X, stroke_data[TARGET].to_numpy()[rows], procedure.named_steps[MODEL_STEP].get_params()


def counted(monkeypatch, method_owner, name: str) -> list[object]:
    """Record each call of ``method_owner.name`` (for ``_fit_holding``, its held set)."""
    calls: list[object] = []
    method = getattr(method_owner, name)

    def recording(self, *args, **kwargs):
        calls.append(args[3].copy() if name == "_fit_holding" else None)
        return method(self, *args, **kwargs)

    monkeypatch.setattr(method_owner, name, recording)
    return calls


def test_a_held_set_the_active_set_comes_back_to_is_not_solved_again(round_trip, monkeypatch):
    X, y, params = round_trip  # noqa: N806
    rounds = counted(monkeypatch, MonotoneLogisticRegression, "_fit_holding")
    solves = counted(monkeypatch, LogisticRegression, "fit")

    MonotoneLogisticRegression(**params).fit(X, y)

    distinct = {held.tobytes() for held in rounds}
    assert len(rounds) > 4 * len(distinct), "the premise: the rounds go back and forth"
    assert len(solves) == len(distinct)


def test_reusing_solves_gives_the_model_that_solving_every_round_gives(round_trip):
    X, y, params = round_trip  # noqa: N806
    reused = MonotoneLogisticRegression(**params).fit(X, y)
    solved_again = SolvingEveryRound(**params).fit(X, y)

    np.testing.assert_array_equal(reused.coef_, solved_again.coef_)
    np.testing.assert_array_equal(reused.intercept_, solved_again.intercept_)
    np.testing.assert_array_equal(reused.n_iter_, solved_again.n_iter_)
    np.testing.assert_array_equal(reused.held_at_zero_, solved_again.held_at_zero_)
