"""Age bands used to compare a patient with their peers and to report performance."""

from __future__ import annotations

AGE_BANDS: tuple[tuple[float, float, str], ...] = (
    (0, 18, "0-17"),
    (18, 40, "18-39"),
    (40, 50, "40-49"),
    (50, 60, "50-59"),
    (60, 70, "60-69"),
    (70, 80, "70-79"),
    (80, float("inf"), "80+"),
)


def age_band(age: float) -> str:
    """The label of the age band an age falls in, e.g. ``"60-69"``."""
    for low, high, label in AGE_BANDS:
        if low <= age < high:
            return label
    raise ValueError(f"age {age} is outside every band")
