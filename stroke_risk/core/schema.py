"""The patient schema: the one definition of fields, allowed values, units and ranges.

Training validates the CSV against it, the service validates requests with it, the app
builds its form from it and the load test draws examples from it. Field names are the
data set's columns in lower snake case, values are spelled as they appear in the data.

Leniency (documented in docs/provider-it/reply-reference.md): category values are matched
ignoring case and the difference between spaces, underscores and hyphens (``govt job`` ->
``Govt_job``, ``yes`` -> ``Yes``) and come back in the data's canonical spelling; the two
yes/no flags take 0/1 or false/true; numbers must be JSON numbers (no strings, NaN or Infinity).
Nothing is defaulted: every field is required, and only ``bmi`` may be null.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from stroke_risk.core.config import get_settings
from stroke_risk.core.validation_errors import (
    MAX_LISTED,
    NAMES_SHOWN,
    condense,
    more_problems,
    unknown_fields,
)

Gender = Literal["Female", "Male", "Other"]
YesNo = Literal["Yes", "No"]
WorkType = Literal["Private", "Self-employed", "Govt_job", "children", "Never_worked"]
ResidenceType = Literal["Urban", "Rural"]
SmokingStatus = Literal["never smoked", "formerly smoked", "smokes", "Unknown"]


def _normalise(text: str) -> str:
    return re.sub(r"[\s_\-]+", " ", text.strip()).casefold()


def _canonical(allowed: Any) -> BeforeValidator:
    """Map any accepted spelling of a category to the data's own spelling."""
    lookup = {_normalise(value): value for value in get_args(allowed)}
    exact = set(get_args(allowed))

    def convert(value: object) -> object:
        if not isinstance(value, str) or value in exact:  # the common case, kept cheap
            return value
        return lookup.get(_normalise(value), value)

    return BeforeValidator(convert)


def _flag(value: object) -> object:
    """0/1 as in the data, or JSON false/true; anything else is left to fail validation."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int) and value in (0, 1):
        return value
    raise ValueError("must be 0 or 1 (false or true)")


Flag = Annotated[Literal[0, 1], BeforeValidator(_flag)]

# Absolute limits: values outside are rejected as impossible or mistyped. Values inside
# these limits but outside the training data's range are scored, marked "beyond the data:
# extrapolated" in the reply (assessment.data_support).
AGE_LIMITS = (0.0, 120.0)
# Glucose's lower limit is the data's own minimum (55.1 mg/dL), rounded down: an average
# glucose below it is far likelier a mmol/L value sent as mg/dL (25 mg/dL, scored as such,
# came out "low") than a patient, so it is refused naming both units.
GLUCOSE_LIMITS = (55.0, 600.0)
BMI_LIMITS = (10.0, 100.0)
GLUCOSE_UNIT_ERROR = "glucose_unit"
GLUCOSE_UNIT_MESSAGE = (
    f"average glucose must be in mg/dL, {GLUCOSE_LIMITS[0]:g} to {GLUCOSE_LIMITS[1]:g}: a "
    f"value under {GLUCOSE_LIMITS[0]:g} is likely in mmol/L (multiply mmol/L by 18 for "
    "mg/dL, e.g. 5.5 mmol/L = 99 mg/dL)"
)


def _number(limits: tuple[float, float]) -> Any:
    """A JSON number within limits: no strings, NaN or Infinity."""
    return Annotated[float, Field(strict=True, allow_inf_nan=False, ge=limits[0], le=limits[1])]


def _glucose_in_mg_dl(value: float) -> float:
    if value < GLUCOSE_LIMITS[0]:
        raise PydanticCustomError(GLUCOSE_UNIT_ERROR, GLUCOSE_UNIT_MESSAGE)
    return value


Age = _number(AGE_LIMITS)
# The lower limit is checked by _glucose_in_mg_dl (its message names both units); the JSON
# schema still documents it as the minimum.
Glucose = Annotated[
    float,
    Field(strict=True, allow_inf_nan=False, le=GLUCOSE_LIMITS[1]),
    AfterValidator(_glucose_in_mg_dl),
]
Bmi = _number(BMI_LIMITS)

# The intended population is adults. The data hold 856 patients under 18 with 2 strokes,
# and the age effect is flat below about 38: a child's score says nothing (an infant with
# hypertension, heart disease and glucose 250 scored 0.6%). Training keeps those rows
# (out-of-fold performance on adults is the same with or without them, see the model
# card); every channel that scores a patient refuses anyone under this age.
ADULT_AGE = 18.0
UNDER_ADULT_AGE = (
    f"patients under {ADULT_AGE:g} are not scored: the estimate is for adults "
    f"({ADULT_AGE:g} to {AGE_LIMITS[1]:g} years)"
)


def _adult(age: float) -> float:
    if age < ADULT_AGE:
        raise ValueError(UNDER_ADULT_AGE)
    return age


class PatientRecord(BaseModel):
    """One row of the data set: any age, as recorded. Training reads rows as these."""

    # "example" (singular): BentoML's document generator accepts no other form; the OpenAPI
    # document (stroke_risk/serving/openapi.py) also shows it as the request's example.
    # hide_input_in_errors: a validation error's text (which servers log) must not carry
    # patient data; the field name and the rule broken are enough.
    model_config = ConfigDict(
        extra="forbid",
        hide_input_in_errors=True,
        json_schema_extra={
            "example": {
                "gender": "Female",
                "age": 42.0,
                "hypertension": 0,
                "heart_disease": 0,
                "ever_married": "Yes",
                "work_type": "Govt_job",
                "residence_type": "Rural",
                "avg_glucose_level": 112.98,
                "bmi": 37.2,
                "smoking_status": "formerly smoked",
            }
        },
    )

    gender: Annotated[Gender, _canonical(Gender)] = Field(
        title="Sex",
        description="Female, Male or Other. The training data hold a single 'Other' patient.",
    )
    age: Age = Field(
        title="Age",
        description="Age in years (fractions allowed for infants). Trained on 0.08 to 82.",
        json_schema_extra={"x-unit": "years"},
    )
    hypertension: Flag = Field(
        title="Hypertension",
        description="1 if the patient has been diagnosed with hypertension, else 0.",
    )
    heart_disease: Flag = Field(
        title="Heart disease",
        description="1 if the patient has any heart disease, else 0.",
    )
    ever_married: Annotated[YesNo, _canonical(YesNo)] = Field(
        title="Ever married", description="Yes or No."
    )
    work_type: Annotated[WorkType, _canonical(WorkType)] = Field(
        title="Work type",
        description="Private, Self-employed, Govt_job, children (a child) or Never_worked.",
    )
    residence_type: Annotated[ResidenceType, _canonical(ResidenceType)] = Field(
        title="Residence", description="Urban or Rural."
    )
    avg_glucose_level: Glucose = Field(
        title="Average glucose",
        description="Average blood glucose in mg/dL (divide by 18 for mmol/L). "
        f"Trained on 55 to 272; under {GLUCOSE_LIMITS[0]:g} is refused as a likely mmol/L "
        "value, above 272 is scored as an extrapolation.",
        json_schema_extra={"x-unit": "mg/dL", "minimum": GLUCOSE_LIMITS[0]},
    )
    bmi: Bmi | None = Field(
        title="BMI",
        description="Body-mass index in kg/m², or null if not measured "
        "(the model then assumes a typical BMI). Trained on 10.3 to 97.6.",
        json_schema_extra={"x-unit": "kg/m²"},
    )
    smoking_status: Annotated[SmokingStatus, _canonical(SmokingStatus)] = Field(
        title="Smoking",
        description="never smoked, formerly smoked, smokes, or Unknown if not recorded.",
    )


class Patient(PatientRecord):
    """One adult patient, as a GP would enter them: what every scoring channel accepts."""

    age: Annotated[Age, AfterValidator(_adult)] = Field(
        title="Age",
        description=f"Age in years, {ADULT_AGE:g} or over: the estimate is for adults. "
        "Trained on 0.08 to 82.",
        # The documented minimum is the adult age; the check itself is the validator above,
        # so a refusal says why ("patients under 18 are not scored") rather than only ">= 18".
        json_schema_extra={"x-unit": "years", "minimum": ADULT_AGE},
    )


class PatientBatch(BaseModel):
    """Many patients, scored in the order given."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    patients: list[Patient] = Field(
        description="The patients to score; results come back in the same order. "
        "At most STROKE_MAX_BATCH_SIZE (default 10,000) per request.",
        min_length=1,
        max_length=get_settings().max_batch_size,
        fail_fast=True,  # stop at the first bad patient: see _bounded
    )

    @field_validator("patients", mode="wrap")
    @classmethod
    def _bounded_errors(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        """A refused batch reports a bounded list of problems (validation_errors.condense):
        one error per patient for its unknown fields, at most MAX_LISTED in all.

        Not free: a validator of the list gets it as Python objects, converted from the
        JSON, which adds about 20 ms to validating 10,000 valid patients (60 -> 80 ms
        here). Catching the error outside pydantic instead (overriding model_validate_json,
        which BentoML calls) costs nothing until validation fails, but then pydantic builds
        its error from the JSON itself: one patient with 290,000 unknown keys took 1.6-3 s
        and 480 MB, against 0.6 s and 118 MB here (bench/README.md, "abuse")."""
        try:
            return handler(value)
        except ValidationError as error:
            raise _bounded(error, value) from None


# A patient with more keys than this is told so from its keys alone: validating it again
# would make one error per key (300,000 keys fit in a batch's 4 MB).
MANY_KEYS = 3 * len(PatientRecord.model_fields)


def _check(patient: Any) -> list[dict[str, Any]]:
    """One patient's problems, as pydantic's error dicts (empty if valid)."""
    if isinstance(patient, dict) and len(patient) > MANY_KEYS:
        unknown = [name for name in patient if name not in Patient.model_fields]
        return [unknown_fields((), unknown[:NAMES_SHOWN], len(unknown))]
    try:
        Patient.model_validate(patient)
    except ValidationError as error:
        return error.errors(include_url=False, include_input=False)
    return []


def first_problems(patients: list[Any]) -> list[dict[str, Any]]:
    """The problems of the first MAX_LISTED patients that have any, each patient checked on
    its own, then a note if the check stopped before the end."""
    found: list[dict[str, Any]] = []
    with_problems = 0
    for index, patient in enumerate(patients):
        problems = _check(patient)
        if problems:
            found += [{**problem, "loc": (index, *problem["loc"])} for problem in problems]
            with_problems += 1
            if with_problems == MAX_LISTED and index + 1 < len(patients):
                found.append(more_problems(None))
                break
    return found


def _bounded(error: ValidationError, patients: Any) -> ValidationError:
    """The error of a refused batch, with a bounded list of problems. The list is checked
    with ``fail_fast`` (pydantic stops at the first bad patient: 300,000 errors for 6,000
    patients with 40 unknown keys each took 0.5 s and 100 MB to make); the first patients
    with problems are then checked one by one, so a batch with a few bad rows still hears
    about each of them."""
    # Turning each error into a dict costs; one patient with 300,000 keys makes that many.
    problems = (
        error.errors(include_url=False, include_input=False) if error.error_count() <= 100 else []
    )
    per_patient = all(
        problem["loc"][:1] and isinstance(problem["loc"][0], int) for problem in problems
    )
    if per_patient and isinstance(patients, list):
        problems = first_problems(patients) or problems
    return validation_error(error.title, condense(problems))


def validation_error(title: str, problems: Sequence[dict[str, Any]]) -> ValidationError:
    """A ValidationError holding exactly ``problems`` (error dicts: type, loc, msg), inputs
    hidden; the messages are not formatted again."""
    return ValidationError.from_exception_data(
        title,
        [
            InitErrorDetails(
                type=PydanticCustomError(problem["type"], problem.get("msg", "invalid")),
                loc=tuple(problem["loc"]),
                input=None,
            )
            for problem in problems
        ],
        hide_input=True,
    )


FEATURES: tuple[str, ...] = tuple(Patient.model_fields)
NUMERIC_FEATURES: tuple[str, ...] = ("age", "avg_glucose_level", "bmi")
FLAG_FEATURES: tuple[str, ...] = ("hypertension", "heart_disease")
CATEGORICAL_FEATURES: tuple[str, ...] = tuple(
    name for name in FEATURES if name not in NUMERIC_FEATURES + FLAG_FEATURES
)
TARGET = "stroke"


def categories(field: str) -> tuple[str, ...]:
    """The allowed values of a categorical field, in the schema's order."""
    annotation = Patient.model_fields[field].annotation
    return tuple(get_args(annotation))


def numeric_limits(field: str) -> tuple[float, float]:
    """The lower and upper limit a scoring channel accepts for a numeric field."""
    ages = (ADULT_AGE, AGE_LIMITS[1])  # what a scoring channel accepts
    return {"age": ages, "avg_glucose_level": GLUCOSE_LIMITS, "bmi": BMI_LIMITS}[field]


# Units are written "x-unit" in the JSON schema: OpenAPI allows only "x-" extensions.
def unit(field: str) -> str | None:
    """The unit of a field, e.g. ``mg/dL``, or None for unitless fields."""
    extra = Patient.model_fields[field].json_schema_extra
    return extra.get("x-unit") if isinstance(extra, dict) else None
