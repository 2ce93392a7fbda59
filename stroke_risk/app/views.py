"""What the app shows: the patient form built from the schema, and results put into words.

Nothing here calls Streamlit, so every sentence the app shows a GP can be tested on its
own. Labels, units, allowed values, limits and help text all come from
:mod:`stroke_risk.core.schema`; the only things decided here are how to display them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import altair as alt
import pandas as pd
from pydantic import ValidationError

from stroke_risk.core.model_card import MODEL_CARD_PATH
from stroke_risk.core.outcome import OutcomeSummary
from stroke_risk.core.patient_tables import ID_COLUMN
from stroke_risk.core.reply_flags import BEYOND_THE_DATA, INTERVAL_LABEL, flag_sentences
from stroke_risk.core.responses import Assessment
from stroke_risk.core.schema import (
    FEATURES,
    FLAG_FEATURES,
    NUMERIC_FEATURES,
    Patient,
    categories,
    numeric_limits,
    unit,
)
from stroke_risk.core.units import (
    CM_PER_INCH,
    GLUCOSE_STEPS,
    HEIGHT_LIMITS_CM,
    KG_PER_POUND,
    WEIGHT_LIMITS_KG,
    BodyUnits,
    GlucoseUnit,
    bmi_from,
    glucose_limits,
    glucose_text,
    glucose_to_mg_dl,
    height_to_cm,
    restate_glucose,
    weight_to_kg,
)

# Display only: how finely each number is typed. The limits themselves come from the schema.
# "%g" shows 67 as 67 and an infant's 0.08 years as 0.08, without trailing zeros.
NUMBER_STEPS: dict[str, tuple[float, str]] = {
    "age": (1.0, "%g"),
    "avg_glucose_level": (1.0, "%g"),
    "bmi": (0.1, "%g"),
}
MAX_RADIO_OPTIONS = 3  # more options than this get a drop-down list
BAND_COLOURS: dict[str, str] = {"low": "green", "moderate": "orange", "high": "red"}
BAND_BACKGROUNDS: dict[str, str] = {"low": "#d3f2dc", "moderate": "#ffe8c2", "high": "#ffd3d3"}
DIRECTION_COLOURS: dict[str, str] = {"raises": "#d62728", "lowers": "#2a7ab0", "none": "#999999"}
BMI_NOT_MEASURED = "BMI not measured"
GLUCOSE = "avg_glucose_level"
GLUCOSE_KEY_SUFFIXES: dict[GlucoseUnit, str] = {"mg/dL": "", "mmol/L": ".mmol_l"}
# A what-if is shown only where the data show an effect for this patient (the reply decides).
NO_WHAT_IF = (
    "No what-if for this patient: one is shown only where these data show the effect of a "
    "change within the patient's own range, and the value is not already healthy."
)


@dataclass(frozen=True)
class FormField:
    """One input of the patient form, described from the schema."""

    name: str
    label: str
    help: str
    kind: Literal["radio", "select", "number"]
    options: tuple[Any, ...] = ()
    limits: tuple[float, float] | None = None
    step: float | None = None
    number_format: str | None = None
    key_suffix: str = ""  # glucose in mmol/L has its own input, so no value changes unit
    # False: the form checks the limits itself and names them in the chosen unit.
    limits_in_widget: bool = True

    @property
    def key(self) -> str:
        """The input's session-state key, e.g. 'patient.avg_glucose_level.mmol_l'."""
        return f"patient.{self.name}{self.key_suffix}"


def field_label(name: str, glucose_unit: GlucoseUnit = "mg/dL") -> str:
    """The schema's title with its unit, e.g. 'Average glucose (mmol/L)'."""
    title = Patient.model_fields[name].title or name
    field_unit = glucose_unit if name == GLUCOSE else unit(name)
    return f"{title} ({field_unit})" if field_unit else title


def form_fields(glucose_unit: GlucoseUnit = "mg/dL") -> list[FormField]:
    """Every field of the schema, in its order, as a form input (glucose in its unit)."""
    fields = []
    for name in FEATURES:
        help_text = Patient.model_fields[name].description or ""
        if name == GLUCOSE:
            low, high = glucose_limits(glucose_unit)
            if glucose_unit != "mg/dL":
                help_text = (
                    f"Average blood glucose in {glucose_unit} (the service receives mg/dL; "
                    f"1 mmol/L = 18.016 mg/dL). Trained on {glucose_text(55, glucose_unit)} "
                    f"to {glucose_text(272, glucose_unit)}."
                )
            fields.append(
                FormField(
                    name,
                    field_label(name, glucose_unit),
                    f"{help_text} Accepted: {low:g} to {high:g} {glucose_unit}.",
                    "number",
                    limits=(low, high),
                    step=GLUCOSE_STEPS[glucose_unit],
                    number_format="%g",
                    key_suffix=GLUCOSE_KEY_SUFFIXES[glucose_unit],
                    limits_in_widget=False,
                )
            )
        elif name in NUMERIC_FEATURES:
            step, number_format = NUMBER_STEPS[name]
            low, high = numeric_limits(name)
            fields.append(
                FormField(
                    name,
                    field_label(name),
                    f"{help_text} Accepted: {low:g} to {high:g}.",
                    "number",
                    limits=(low, high),
                    step=step,
                    number_format=number_format,
                )
            )
        else:
            options = categories(name)
            kind = "radio" if len(options) <= MAX_RADIO_OPTIONS else "select"
            fields.append(FormField(name, field_label(name), help_text, kind, options=options))
    return fields


def option_label(name: str, value: Any) -> str:
    """How an allowed value reads on screen: 1 -> 'Yes', 'Govt_job' -> 'Govt job'."""
    if name in FLAG_FEATURES:
        return "Yes" if value == 1 else "No"
    text = str(value).replace("_", " ")
    return text[:1].upper() + text[1:]


def format_value(name: str, value: Any, glucose_unit: GlucoseUnit = "mg/dL") -> str:
    """A patient's value with its unit, e.g. '37.2 kg/m²', '12.7 mmol/L', 'Yes'."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "not measured"
    if name == GLUCOSE:
        return glucose_text(float(value), glucose_unit)
    if name in NUMERIC_FEATURES:
        field_unit = unit(name)
        return f"{float(value):g} {field_unit}" if field_unit else f"{float(value):g}"
    return option_label(name, value)


# The height and weight inputs per system, as (key, label, step); BMI is computed from them.
BODY_INPUTS: dict[BodyUnits, tuple[tuple[str, str, float], ...]] = {
    "metric": (("height_cm", "Height (cm)", 1.0), ("weight_kg", "Weight (kg)", 0.1)),
    "imperial": (
        ("height_ft", "Height (ft)", 1.0),
        ("height_in", "Inches (in)", 1.0),
        ("weight_lb", "Weight (lb)", 1.0),
    ),
}


def _outside(value: float, low: float, high: float, unit_text: str, label: str) -> str | None:
    if low <= value <= high:
        return None
    return f"{label}: {value:g} is outside the accepted range, {low:g} to {high:g} {unit_text}."


def bmi_from_form(
    values: Mapping[str, Any], body_units: BodyUnits
) -> tuple[float | None, list[str]]:
    """The BMI computed from the height and weight typed in, or None when neither was;
    problems when only one was, or a value is implausible (named in the typed unit)."""
    typed = {key: values.get(key) for key, _, _ in BODY_INPUTS[body_units]}
    if all(value is None for value in typed.values()):
        return None, []
    if body_units == "metric":
        height, weight = typed["height_cm"], typed["weight_kg"]
        height_cm = None if height is None else float(height)
        weight_kg = None if weight is None else float(weight)
    else:
        feet, inches, pounds = typed["height_ft"], typed["height_in"], typed["weight_lb"]
        height_cm = None if feet is None else height_to_cm(float(feet), float(inches or 0))
        weight_kg = None if pounds is None else weight_to_kg(float(pounds))
    if height_cm is None or weight_kg is None:
        return None, [
            f"BMI: give both height and weight, type the BMI itself, or tick '{BMI_NOT_MEASURED}'."
        ]
    if body_units == "metric":
        checks = [
            (height_cm, HEIGHT_LIMITS_CM, "cm", "Height (cm)"),
            (weight_kg, WEIGHT_LIMITS_KG, "kg", "Weight (kg)"),
        ]
    else:
        checks = [
            (height_cm / CM_PER_INCH, [x / CM_PER_INCH for x in HEIGHT_LIMITS_CM], "in", "Height"),
            (
                weight_kg / KG_PER_POUND,
                [x / KG_PER_POUND for x in WEIGHT_LIMITS_KG],
                "lb",
                "Weight",
            ),
        ]
    problems = [
        problem
        for value, (low, high), unit_text, label in checks
        if (problem := _outside(round(value, 1), round(low), round(high), unit_text, label))
    ]
    return (None, problems) if problems else (bmi_from(height_cm, weight_kg), [])


def patient_from_form(
    values: Mapping[str, Any],
    bmi_not_measured: bool,
    glucose_unit: GlucoseUnit = "mg/dL",
    body_units: BodyUnits = "metric",
) -> tuple[dict[str, Any] | None, list[str]]:
    """The patient to send (schema fields, the data set's units) or the problems to show.

    Nothing is defaulted, as in the schema: an unanswered question is a problem, and a blank
    BMI is only accepted when 'BMI not measured' is ticked, so a forgotten BMI is never
    silently scored as a typical one. BMI may be typed or computed from height and weight
    (a typed BMI wins); glucose is converted from the chosen unit, and its limits are named
    in that unit.
    """
    patient: dict[str, Any] = {}
    problems: list[str] = []
    computed_bmi, bmi_problems = bmi_from_form(values, body_units)
    for name in FEATURES:
        value = values.get(name)
        if name == "bmi" and bmi_not_measured:
            value = None
        elif name == "bmi" and value is None and (computed_bmi is not None or bmi_problems):
            problems += bmi_problems
            value = computed_bmi
        elif value is None:
            hint = (
                f", give height and weight, or tick '{BMI_NOT_MEASURED}'" if name == "bmi" else ""
            )
            problems.append(f"{field_label(name, glucose_unit)}: please answer{hint}.")
            continue
        if name == GLUCOSE:
            low, high = glucose_limits(glucose_unit)
            label = field_label(name, glucose_unit)
            if problem := _outside(float(value), low, high, glucose_unit, label):
                problems.append(problem)
                continue
            value = round(glucose_to_mg_dl(float(value), glucose_unit), 2)
        if name in NUMERIC_FEATURES and value is not None:
            value = float(value)
        patient[name] = value
    if problems:
        return None, problems
    try:
        return Patient.model_validate(patient).model_dump(), []
    except ValidationError as exc:
        return None, [
            f"{field_label(str(error['loc'][0]), glucose_unit)}: {error['msg']}."
            if error["loc"]
            else f"{error['msg']}."
            for error in exc.errors()
        ]


def percent_text(probability: float) -> str:
    """'22.6%'; very small risks as '<0.1%' rather than a misleading '0.0%'."""
    if 0 < probability < 0.0005:
        return "<0.1%"
    return f"{100 * probability:.1f}%"


def _half_up(value: float) -> int:
    """Round halves up, as people do (Python's round() sends 2.5 to 2)."""
    return math.floor(value + 0.5)


def people_like_this(probability: float) -> str:
    """The risk as a natural frequency: 'about 23 in 100 people like this patient'."""
    per_100 = _half_up(100 * probability)
    if per_100 >= 1:
        return f"about {per_100} in 100 people like this patient"
    per_1000 = _half_up(1000 * probability)
    if per_1000 >= 1:
        return f"fewer than 1 in 100 people like this patient (about {per_1000} in 1,000)"
    return "fewer than 1 in 1,000 people like this patient"


def band_ranges(thresholds: tuple[float, float]) -> dict[str, str]:
    """What each band means, e.g. {'low': 'below 5%', 'moderate': '5% to 15%', ...}."""
    low, high = (f"{100 * t:g}%" for t in thresholds)
    return {"low": f"below {low}", "moderate": f"{low} to {high}", "high": f"{high} and above"}


def band_text(assessment: Assessment) -> str:
    """'High band (15% and above)' for a stroke-history model; 'High risk (...)' only for
    a model whose outcome is a future stroke."""
    meaning = band_ranges(assessment.risk_band_thresholds)[assessment.risk_band]
    text = f"{assessment.outcome.band_label(assessment.risk_band)} ({meaning})"
    return f"{text}, {BEYOND_THE_DATA}" if assessment.beyond_data else text


# --- What the number is: every sentence from the reply's outcome (the model's record). ---


def headline_label(assessment: Assessment) -> str:
    """The result's heading: 'Stroke history among similar adults in the data (not a future
    risk)', or '5-year risk of stroke' for a model trained on follow-up data; marked when
    a value lies beyond the data."""
    headline = assessment.outcome.headline
    return f"{headline}, {BEYOND_THE_DATA}" if assessment.beyond_data else headline


def metric_label(assessment: Assessment) -> str:
    """The number's short name over its value ('Stroke history', '5-year stroke risk'): a
    metric's box is narrow, and :func:`headline_label` stands whole just above it."""
    return assessment.outcome.short_label


def interval_caption(assessment: Assessment) -> str:
    """The interval by its one name: '22.6% (18.1% to 27.9%): 95% interval, model
    instability: ...'; empty for a model without intervals."""
    if assessment.probability_interval is None:
        return ""
    return f"{interval_text(assessment)}: {INTERVAL_LABEL}, {assessment.interval_name}."


def reply_flags(assessment: Assessment) -> list[str]:
    """What the GP must read beside the number: beyond the data, an unsettled band, thin
    data support and where the model barely ranks (each a sentence from the reply)."""
    sentences = flag_sentences(assessment.model_dump())
    sentences += [
        note for note in (assessment.data_support_note, assessment.ranking_caveat) if note
    ]
    return sentences


def frequency_text(assessment: Assessment) -> str:
    """'About 9 in 100 adults like this in the data had had a stroke.'"""
    return assessment.outcome.natural_frequency(assessment.probability)


def outcome_caveat(assessment: Assessment) -> str:
    """Why a history number is not a forecast; empty for a future-risk model."""
    return assessment.outcome.not_prospective


def band_counts_label(outcome: OutcomeSummary, band: str, meaning: str | None) -> str:
    """A worklist's band counter: 'High band (15% and above)'."""
    label = outcome.band_label(band)
    return f"{label} ({meaning})" if meaning else label


def model_card_url(service_url: str) -> str:
    """The served card of the model answering this app (its HTML page)."""
    return service_url.rstrip("/") + MODEL_CARD_PATH


def model_card_markdown(service_url: str, model_tag: str) -> str:
    """The link the app shows beside every result."""
    return (
        f"[Model card for {model_tag}]({model_card_url(service_url)}): what the number is, "
        "the data it comes from and how it was validated."
    )


def comparison_text(assessment: Assessment) -> str:
    """This patient against the average of the same sex and age band in the training data."""
    peers = assessment.comparison
    relative = peers.relative_risk
    if relative >= 1.05:
        versus = f"{relative:.1f} times the average"
    elif relative <= 0.95:
        versus = f"{relative:.1f} times the average (below it)"
    else:
        versus = "about the average"
    return (
        f"The average estimate for {peers.group} ({peers.patients:,} patients in the training "
        f"data) is {percent_text(peers.average_risk)}; {percent_text(peers.observed_rate)} of "
        f"them had a stroke. This patient's estimate is {versus}."
    )


def interval_text(assessment: Assessment) -> str:
    """'14.8% (12.1% to 17.9%)', or the percentage alone for a model without intervals."""
    text = percent_text(assessment.probability)
    if assessment.probability_interval is None:
        return text
    low, high = assessment.probability_interval
    return f"{text} ({percent_text(low)} to {percent_text(high)})"


def reference_text(assessment: Assessment, glucose_unit: GlucoseUnit = "mg/dL") -> str:
    """Whom the drivers compare with, and that patient's own estimate."""
    reference = assessment.reference_patient
    description = restate_glucose(reference.description, glucose_unit)
    return (
        f"Compared with a reference patient: {description}, whose estimate is "
        f"{percent_text(reference.probability)}."
    )


def factors_frame(assessment: Assessment, glucose_unit: GlucoseUnit = "mg/dL") -> pd.DataFrame:
    """The contributing factors, largest first, as odds ratios against the reference."""
    rows = [
        {
            "factor": f"{factor.label}: {format_value(factor.factor, factor.value, glucose_unit)}",
            "odds_ratio": factor.odds_ratio,
            "direction": factor.direction,
            "compared_with": format_value(factor.factor, factor.reference_value, glucose_unit),
            "text": f"{factor.label} {format_value(factor.factor, factor.value, glucose_unit)} "
            f"(reference {format_value(factor.factor, factor.reference_value, glucose_unit)}): "
            f"odds "
            f"× {factor.odds_ratio:.2f}, {factor.direction} the risk",
        }
        for factor in assessment.contributing_factors
    ]
    return pd.DataFrame(
        rows, columns=["factor", "odds_ratio", "direction", "compared_with", "text"]
    )


def factors_text(assessment: Assessment, glucose_unit: GlucoseUnit = "mg/dL") -> str:
    """The drivers chart's text alternative: one sentence per factor."""
    return "; ".join(factors_frame(assessment, glucose_unit)["text"]) + "."


# A factor whose odds ratio is (almost) 1 would draw a bar of no width: it gets this share of
# the axis's half-width instead, so every factor has a visible bar (its number is in the
# tooltip and the text alternative).
MIN_BAR_SHARE = 0.05


def factor_bars(frame: pd.DataFrame) -> tuple[pd.DataFrame, tuple[float, float]]:
    """Where each factor's bar starts and ends, and the x axis's domain.

    Vega cannot draw a bar from 0 on a log scale (log 0 is minus infinity: no bar at all),
    so each bar runs from 1, the reference patient, to the factor's odds ratio. The domain
    is symmetric around 1, as in the printed summary: left lowers, right raises.
    """
    logs = [math.log(max(ratio, 1e-6)) for ratio in frame["odds_ratio"]]
    span = 1.1 * max([math.log(2.0), *(abs(value) for value in logs)])
    shortest = MIN_BAR_SHARE * span
    starts, ends = [], []
    for value in logs:
        if abs(value) >= shortest:
            starts.append(1.0)
            ends.append(math.exp(value))
        elif value > 0:
            starts.append(1.0)
            ends.append(math.exp(shortest))
        elif value < 0:
            starts.append(math.exp(-shortest))
            ends.append(1.0)
        else:  # no effect: a thin bar centred on 1
            starts.append(math.exp(-shortest / 2))
            ends.append(math.exp(shortest / 2))
    bars = frame.assign(bar_from=starts, bar_to=ends)
    return bars, (math.exp(-span), math.exp(span))


def factor_chart(assessment: Assessment, glucose_unit: GlucoseUnit = "mg/dL") -> alt.LayerChart:
    """Horizontal bars on a log scale from 1 (the reference patient): how many times each
    factor multiplies the odds against the reference's value (right of 1, red, raises; left,
    blue, lowers), with a line at 1."""
    bars, domain = factor_bars(factors_frame(assessment, glucose_unit))
    directions = list(DIRECTION_COLOURS)
    x_scale = alt.Scale(type="log", domain=list(domain), nice=False)
    bar_layer = (
        alt.Chart(bars)
        .mark_bar()
        .encode(
            x=alt.X(
                "bar_from:Q",
                title="Odds ratio (log scale)",
                scale=x_scale,
                axis=alt.Axis(titleLimit=0, format="~g"),
            ),
            x2="bar_to:Q",
            y=alt.Y(
                "factor:N", sort=None, title=None, axis=alt.Axis(labelLimit=320, labelOverlap=False)
            ),
            color=alt.Color(
                "direction:N",
                scale=alt.Scale(
                    domain=directions, range=[DIRECTION_COLOURS[d] for d in directions]
                ),
                legend=alt.Legend(title=None, orient="top"),
            ),
            tooltip=[
                alt.Tooltip("factor:N", title="Factor"),
                alt.Tooltip("odds_ratio:Q", title="Odds ratio", format=".2f"),
                alt.Tooltip("compared_with:N", title="Reference value"),
            ],
        )
    )
    reference_line = (
        alt.Chart(pd.DataFrame({"reference": [1.0]}))
        .mark_rule(color="#333333")
        .encode(x=alt.X("reference:Q", scale=x_scale))
    )
    # The line first, so a short bar at 1 is drawn over it rather than hidden under it.
    return alt.layer(
        reference_line, bar_layer, description=factors_text(assessment, glucose_unit)
    ).properties(height=alt.Step(32))


@dataclass(frozen=True)
class WhatIfView:
    """One what-if as a before/after the app shows side by side."""

    title: str  # 'Stop smoking'
    change: str  # 'Smokes → Formerly smoked'
    before: str  # '22.6%'
    after: str  # '22.1%'
    delta: str  # '-0.6 points'
    summary: str  # 'Smokes → Formerly smoked: 22.6% → 22.1%, 0.6 percentage points lower.'


def what_if_views(assessment: Assessment, glucose_unit: GlucoseUnit = "mg/dL") -> list[WhatIfView]:
    """The modifiable factors not yet at a healthy value, as before/after pairs."""
    views = []
    for what_if in assessment.what_if:
        points = 100 * what_if.absolute_reduction
        change = (
            f"{format_value(what_if.factor, what_if.current_value, glucose_unit)} → "
            f"{format_value(what_if.factor, what_if.target_value, glucose_unit)}"
        )
        title = restate_glucose(what_if.change, glucose_unit)
        before, after = percent_text(assessment.probability), percent_text(what_if.probability)
        if points >= 0.05:
            effect = f"{points:.1f} percentage points lower"
        elif points <= -0.05:
            effect = f"{-points:.1f} percentage points higher by this model (no benefit shown)"
        else:
            effect = "about the same"
        views.append(
            WhatIfView(
                title=title[:1].upper() + title[1:],
                change=change,
                before=before,
                after=after,
                delta=f"{-points:+.1f} points",
                summary=f"{change}: {before} → {after}, {effect}.",
            )
        )
    return views


# The ranked table's columns as a GP reads them, with the precision the result shows.
TABLE_COLUMNS: dict[str, str] = {
    "rank": "Rank",
    ID_COLUMN: "Id",
    "line": "Line",
    "risk_percent": "Estimate (%)",
    "risk_low_percent": "95% interval from (%)",
    "risk_high_percent": "95% interval to (%)",
    "risk_band": "Band",
    "band_not_settled": "Interval crosses a band edge",
    "beyond_data": "Beyond the data (extrapolated)",
    "relative_to_peers": "Times the average for age and sex",
    "peer_group": "Compared with",
    "main_factors": "Main factors raising the estimate",
    "best_what_if": "Biggest what-if",
    "warnings": "Warnings",
}
TABLE_NUMBER_FORMATS: dict[str, str] = {
    "risk_percent": "%.1f",
    "risk_low_percent": "%.1f",
    "risk_high_percent": "%.1f",
    "peer_average_percent": "%.1f",
    "relative_to_peers": "%.1f",
}
WIDE_TABLE_COLUMNS = ("main_factors", "best_what_if", "warnings")  # sentences: never cut short


def table_column_config(columns: list[str]) -> dict[str, Any]:
    """Streamlit's column settings for the ranked table: the GP's header, numbers to the
    precision shown in a single result (39.6, not 39.600000) and room for the sentences.

    Plain dicts, as ``st.column_config`` builds them, so this module stays free of
    Streamlit calls.
    """
    config: dict[str, Any] = {}
    for column in columns:
        label = TABLE_COLUMNS.get(column, column)
        if column in TABLE_NUMBER_FORMATS:
            config[column] = {
                "label": label,
                "type_config": {"type": "number", "format": TABLE_NUMBER_FORMATS[column]},
            }
        elif column in WIDE_TABLE_COLUMNS:
            config[column] = {"label": label, "width": "large", "type_config": {"type": "text"}}
        else:
            config[column] = label
    return config


def upload_instructions(glucose_unit: GlucoseUnit) -> str:
    """What the upload expects, in the unit the clinic chose."""
    columns = ", ".join(f"`{name}`" for name in FEATURES)
    return (
        f"Upload a CSV file with these columns: {columns}. **Glucose is read in "
        f"{glucose_unit}**, the unit chosen above, unless the file has a `glucose_unit` "
        "column saying `mg/dL` or `mmol/L` for each row; a value that fits the other unit "
        "is refused, never converted by guess. An `id` column is kept as your reference; a "
        "`stroke` column is ignored. Leave `bmi` empty (or `N/A`) when it was not measured. "
        "Start from a sample file:"
    )


# Streamlit sends a pandas Styler cell by cell: about 1 s for 60,000 cells on one core.
# Bigger tables are shown without colours (the downloaded CSV is the same either way).
MAX_STYLED_CELLS = 60_000


def highlight_bands(frame: pd.DataFrame) -> pd.DataFrame | Any:
    """The table with each risk band's cell coloured (a pandas Styler), if small enough."""
    if "risk_band" not in frame.columns or frame.size > MAX_STYLED_CELLS:
        return frame
    formats = dict.fromkeys(TABLE_NUMBER_FORMATS, "{:.1f}")
    return frame.style.map(
        lambda band: f"background-color: {BAND_BACKGROUNDS.get(band, 'transparent')}",
        subset=["risk_band"],
    ).format({k: v for k, v in formats.items() if k in frame.columns}, na_rep="")


def worklist_caption(upload: Any) -> str:
    """Under an upload's table: what it ranks by and what its interval is, by name."""
    first = next(iter(upload.assessments.values()), None)
    interval = f" The 95% interval is {first.interval_name}." if first is not None else ""
    return f"{upload.outcome.ranking}{interval}"
