"""How much of a cross-validated ROC AUC on this data set is the missing-BMI artifact?

    python bench/missing_bmi_indicator.py      # about a minute; bench/results/missing_bmi.json

Re-creates the original project's preprocessing (DictVectorizer, MinMaxScaler and
KNNImputer with ``add_indicator=True``) and its logistic-regression grid (class-balanced,
C from 0.001 to 1000), and scores it on this project's training split and 5x5 folds,
with and without the missing-value indicator. A blank BMI goes with a four times higher
stroke rate here, so the indicator is a shortcut the foundation issue forbids; the gap
between the two runs is what it is worth. The test split is not read.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.feature_extraction import DictVectorizer
from sklearn.impute import KNNImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, RepeatedStratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, MinMaxScaler

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.bench_service import write_results  # noqa: E402
from stroke_risk.config import REPO_ROOT  # noqa: E402
from stroke_risk.data import load_training_data  # noqa: E402
from stroke_risk.schema import FEATURES, TARGET  # noqa: E402
from stroke_risk.train import TEST_SIZE  # noqa: E402

SEED = 42  # training.py's default: the same split and folds as the model card
TEXT_COLUMNS = ("gender", "work_type", "residence_type", "smoking_status")


def original_records(frame: pd.DataFrame) -> list[dict]:
    """The original's cleaning: ever_married as 0/1, lower-case snake-case categories, and
    the two 0/1 flags treated as categories (DictVectorizer one-hot encodes strings)."""
    cleaned = frame.copy()
    cleaned["ever_married"] = (cleaned["ever_married"] == "Yes").astype(int)
    for column in TEXT_COLUMNS:
        cleaned[column] = cleaned[column].str.lower().str.replace(r"[ -]", "_", regex=True)
    for column in ("hypertension", "heart_disease"):
        cleaned[column] = cleaned[column].astype(str)
    return cleaned.to_dict(orient="records")


def cv_auc(frame: pd.DataFrame, indicator: bool) -> tuple[float, float, float]:
    """Best mean CV ROC AUC of the original's grid: (C, mean, standard deviation)."""
    pipeline = Pipeline(
        [
            ("records", FunctionTransformer(original_records)),
            ("vectorise", DictVectorizer(sparse=False)),
            ("scale", MinMaxScaler()),
            ("impute", KNNImputer(add_indicator=indicator)),
            ("model", LogisticRegression(class_weight="balanced", max_iter=5000)),
        ]
    )
    search = GridSearchCV(
        pipeline,
        {"model__C": list(np.logspace(-3, 3, 7))},
        scoring="roc_auc",
        cv=RepeatedStratifiedKFold(n_splits=5, n_repeats=5, random_state=SEED),
        n_jobs=2,
        refit=False,
    ).fit(frame[list(FEATURES)], frame[TARGET])
    best = search.best_index_
    return (
        float(search.cv_results_["param_model__C"][best]),
        float(search.cv_results_["mean_test_score"][best]),
        float(search.cv_results_["std_test_score"][best]),
    )


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    data = load_training_data(REPO_ROOT / "healthcare-dataset-stroke-data.csv")
    train_frame, _ = train_test_split(
        data, test_size=TEST_SIZE, stratify=data[TARGET], random_state=SEED
    )
    summary = {}
    for indicator in (True, False):
        c, mean, std = cv_auc(train_frame, indicator)
        key = "with_indicator" if indicator else "without_indicator"
        summary[key] = {"C": c, "cv_auc_mean": round(mean, 4), "cv_auc_std": round(std, 4)}
    summary["indicator_worth"] = round(
        summary["with_indicator"]["cv_auc_mean"] - summary["without_indicator"]["cv_auc_mean"], 4
    )
    write_results(summary, REPO_ROOT / "bench/results/missing_bmi.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
