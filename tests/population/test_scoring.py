"""One batch scored without Spark: the service's numbers, the API's refusals, any input type."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from stroke_risk.core.patient_tables import parse_patients
from stroke_risk.core.schema import FEATURES, Patient
from stroke_risk.population.scoring import SCORE_COLUMNS, score_batch
from tests.population.conftest import BAD_ROWS, population_table

pytestmark = pytest.mark.slow  # needs the session's trained model


def service_results(assessor, table: pd.DataFrame) -> dict[str, object]:
    """What /predict_batch answers for each valid row, by id (validated as the API does)."""
    valid = parse_patients(table.astype(str)).valid
    patients = [
        Patient.model_validate(
            {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
        )
        for r in valid[list(FEATURES)].to_dict(orient="records")
    ]
    return dict(zip(valid["id"], assessor.assess(patients), strict=True))


@pytest.fixture(scope="module")
def table(data_path) -> pd.DataFrame:
    from stroke_risk.core.patient_tables import read_table

    return population_table(read_table(data_path), 200)


def test_every_row_comes_back_once_in_order(assessor, table) -> None:
    scored = score_batch(table, assessor, keep=["practice_id"])
    assert scored["id"].tolist() == table["id"].tolist()
    assert scored["practice_id"].tolist() == table["practice_id"].tolist()
    assert list(scored.columns) == ["id", "practice_id", *SCORE_COLUMNS]


def test_scores_equal_the_services_for_the_same_patients(assessor, table) -> None:
    scored = score_batch(table, assessor).set_index("id")
    expected = service_results(assessor, table)
    assert len(expected) > 150
    for reference, result in expected.items():
        row = scored.loc[reference]
        assert abs(row["probability"] - result.probability) <= 1e-9
        assert [row["probability_low"], row["probability_high"]] == pytest.approx(
            result.probability_interval, abs=1e-9
        )
        assert row["risk_band"] == result.risk_band
        drivers = [row[f"driver_{k}"] for k in (1, 2, 3)]
        assert drivers == [f.factor for f in result.contributing_factors[:3]]
        reductions = [w.absolute_reduction for w in result.what_if]
        if reductions:
            assert row["what_if_reduction"] == pytest.approx(max(reductions), abs=1e-9)
        else:
            assert pd.isna(row["what_if_change"])


@pytest.mark.parametrize("reference", sorted(BAD_ROWS))
def test_bad_rows_are_set_aside_with_the_schemas_message(assessor, table, reference) -> None:
    scored = score_batch(table, assessor).set_index("id")
    row = scored.loc[reference]
    assert not pd.isna(row["rejection"]) and BAD_ROWS[reference][1] in row["rejection"]
    assert pd.isna(row["probability"])
    others = table[~table["id"].isin(list(BAD_ROWS))]
    children = set(others.loc[pd.to_numeric(others["age"]) < 18, "id"])
    rejected = scored.drop(index=list(BAD_ROWS))["rejection"].dropna()
    assert set(rejected.index) == children  # the data set's children, and only they


def test_typed_columns_read_like_the_csv_text(assessor, table) -> None:
    """Parquet brings numbers, floats for 0/1 flags with gaps, and booleans: same scores."""
    text = table[~table["id"].isin(list(BAD_ROWS))].head(50)
    typed = text.copy()
    for name in ("age", "avg_glucose_level", "bmi"):
        typed[name] = pd.to_numeric(typed[name], errors="coerce")
    typed["hypertension"] = typed["hypertension"].astype(float)
    typed["heart_disease"] = typed["heart_disease"].astype(int).astype(bool)
    from_text = score_batch(text, assessor)
    from_typed = score_batch(typed, assessor)
    pd.testing.assert_frame_equal(from_text, from_typed)
    assert from_typed["rejection"].isna().all()


def test_a_batch_of_only_bad_rows_scores_nothing(assessor, table) -> None:
    bad = table[table["id"].isin(list(BAD_ROWS))]
    scored = score_batch(bad, assessor)
    assert scored["rejection"].notna().all()
