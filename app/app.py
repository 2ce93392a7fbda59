"""Stroke decision support for clinics without their own IT: one patient, or a CSV of many.

    streamlit run app/app.py      (or `make app`; the prediction service must be running)

Layout only: the form is built from the patient schema by `stroke_risk.app.views`, the
service is called by `stroke_risk.app.client` and uploads are scored by
`stroke_risk.app.batch`. The app never loads the model itself.
"""

from __future__ import annotations

import io
from pathlib import Path

import streamlit as st

from stroke_risk.app.batch import (
    UNIT_COLUMN,
    ScoredUpload,
    high_risk_summaries,
    problems_frame,
    problems_text,
    sample_csv,
    score_patients_csv,
    scored_csv,
)
from stroke_risk.app.client import ServiceError, StrokeRiskClient
from stroke_risk.app.sign_in import access_from_settings
from stroke_risk.app.summary_pdf import DEFAULT_TITLE, summaries_zip, summary_pdf
from stroke_risk.app.views import (
    BAND_COLOURS,
    BMI_NOT_MEASURED,
    BODY_INPUTS,
    NO_WHAT_IF,
    TABLE_COLUMNS,
    FormField,
    band_counts_label,
    band_ranges,
    band_text,
    comparison_text,
    factor_chart,
    factors_text,
    form_fields,
    frequency_text,
    headline_label,
    highlight_bands,
    interval_caption,
    metric_label,
    model_card_markdown,
    model_card_url,
    option_label,
    outcome_caveat,
    patient_from_form,
    percent_text,
    reference_text,
    reply_flags,
    table_column_config,
    upload_instructions,
    what_if_views,
    worklist_caption,
)
from stroke_risk.core.patient_tables import DataError
from stroke_risk.core.responses import DISCLAIMER, Assessment
from stroke_risk.core.units import BODY_UNITS, GLUCOSE_UNITS, BodyUnits, GlucoseUnit


def secrets_for_client() -> dict[str, str]:
    """STROKE_API_KEY from .streamlit/secrets.toml, if the app has such a file."""
    try:
        return (
            {"STROKE_API_KEY": st.secrets["STROKE_API_KEY"]}
            if "STROKE_API_KEY" in st.secrets
            else {}
        )
    except FileNotFoundError:  # no secrets file at all: the environment decides
        return {}


def glucose_unit() -> GlucoseUnit:
    return st.session_state.get("units.glucose") or "mg/dL"


def body_units() -> BodyUnits:
    return st.session_state.get("units.body") or "metric"


def unit_selectors() -> None:
    """Above both tabs: the form and the CSV upload read glucose in the chosen unit. Outside
    the form, so that the form's labels and limits follow a change at once; the choice is
    kept for the session (widget keys live in the session state)."""
    glucose, body = st.columns(2)
    glucose.radio(
        "Glucose unit",
        GLUCOSE_UNITS,
        horizontal=True,
        key="units.glucose",
        help="mmol/L as recorded in the UK, Europe, Canada and Australia; the service "
        "receives mg/dL (1 mmol/L = 18.016 mg/dL). Applies to the form and to uploaded files "
        f"(unless a file has its own `{UNIT_COLUMN}` column).",
    )
    body.radio(
        "Height and weight",
        BODY_UNITS,
        horizontal=True,
        key="units.body",
        format_func=lambda system: {"metric": "cm, kg", "imperial": "ft and in, lb"}[system],
    )


def body_inputs() -> None:
    """Height and weight, from which the BMI is computed when no BMI is typed."""
    inputs = BODY_INPUTS[body_units()]
    for column, (key, label, step) in zip(st.columns(len(inputs)), inputs, strict=True):
        column.number_input(
            label,
            value=None,
            step=step,
            format="%g",
            key=f"patient.{key}",
            help="Leave BMI empty and give height and weight: the BMI is computed from them.",
        )


def form_values() -> dict[str, object]:
    """What was typed, by schema field (glucose from the chosen unit's input) and body input."""
    values = {field.name: st.session_state.get(field.key) for field in form_fields(glucose_unit())}
    for key, _, _ in BODY_INPUTS[body_units()]:
        values[key] = st.session_state.get(f"patient.{key}")
    return values


def field_input(field: FormField) -> None:
    key = field.key
    if field.kind == "number":
        low, high = (field.limits if field.limits_in_widget else None) or (None, None)
        st.number_input(
            field.label,
            min_value=low,
            max_value=high,
            value=None,
            step=field.step,
            format=field.number_format,
            help=field.help,
            key=key,
        )
    else:
        widget = st.radio if field.kind == "radio" else st.selectbox
        options = {"horizontal": True} if field.kind == "radio" else {"placeholder": "Choose"}
        widget(
            field.label,
            field.options,
            index=None,
            format_func=lambda value, name=field.name: option_label(name, value),
            help=field.help,
            key=key,
            **options,
        )


def patient_form() -> bool:
    """The one-patient form; True when it was just submitted. Values persist in session."""
    with st.form("patient"):
        st.text_input(
            "Patient reference (optional)",
            key="patient.reference",
            help="For your own records, e.g. initials. Shown with the result; never sent to "
            "the prediction service.",
        )
        columns = st.columns(2)
        for position, field in enumerate(form_fields(glucose_unit())):
            with columns[position % 2]:
                field_input(field)
                if field.name == "bmi":
                    st.checkbox(
                        BMI_NOT_MEASURED,
                        key="patient.bmi_not_measured",
                        help="Tick when no BMI is recorded: the model then assumes a typical "
                        "BMI and says so.",
                    )
        st.caption("Or, instead of typing the BMI, its height and weight:")
        body_inputs()
        return st.form_submit_button("Estimate risk", type="primary", key="patient.submit")


def assess_submitted_patient(client: StrokeRiskClient) -> None:
    values = form_values()
    patient, problems = patient_from_form(
        values,
        bool(st.session_state.get("patient.bmi_not_measured")),
        glucose_unit(),
        body_units(),
    )
    st.session_state["one.problems"] = problems
    computed = patient is not None and values["bmi"] is None and patient["bmi"] is not None
    st.session_state["one.bmi_note"] = (
        f"BMI computed from height and weight: {patient['bmi']:g} kg/m²." if computed else None
    )
    st.session_state["one.error"] = None  # (what to do in the clinic, technical detail)
    st.session_state["one.result"] = None  # never leave an earlier patient's result on screen
    if patient is None:
        return
    try:
        with st.spinner("Asking the prediction service..."):
            st.session_state["one.result"] = client.assess(patient)
        st.session_state["one.reference"] = st.session_state.get("patient.reference", "")
    except ServiceError as exc:
        st.session_state["one.error"] = (exc.advice, str(exc))


def summary_title() -> str:
    """The title the practice chose for printed summaries (kept for the session)."""
    return st.session_state.get("pdf.title") or DEFAULT_TITLE


def summary_title_input() -> None:
    """Once, in the sidebar: both tabs print with it."""
    st.sidebar.text_input(
        "Title on printed summaries",
        key="pdf.title",
        placeholder=DEFAULT_TITLE,
        help="E.g. your practice's name. Printed at the top of every patient summary.",
    )


def show_assessment(
    assessment: Assessment, reference: str, unit: GlucoseUnit, service_url: str
) -> None:
    # h2 under the page's h1 (no skipped heading level, axe-core's heading-order rule).
    st.header(f"Result for {reference}" if reference else "Result")
    # What the number is, whole, on its own line: a metric's label is cut to its box's
    # width ("Stroke history among s…" hid "not a future risk"), so the metric has the
    # short name.
    st.markdown(f"**{headline_label(assessment)}**")
    risk, band = st.columns(2)
    risk.metric(
        metric_label(assessment),
        percent_text(assessment.probability),
        border=True,
        help=headline_label(assessment),
    )
    if assessment.probability_interval is not None:
        risk.caption(interval_caption(assessment))
    with band:
        st.badge(band_text(assessment), color=BAND_COLOURS[assessment.risk_band])
        st.markdown(f"**{frequency_text(assessment)}**")
    if outcome_caveat(assessment):
        st.caption(outcome_caveat(assessment))
    st.write(comparison_text(assessment))
    for flag in reply_flags(assessment):
        st.warning(flag)
    for warning in assessment.warnings:
        st.warning(warning)

    st.markdown("### What drives this estimate")
    st.write(reference_text(assessment, unit))
    st.altair_chart(factor_chart(assessment, unit), width="stretch")
    st.caption(
        "Each bar: how many times this factor multiplies the odds compared with the "
        "reference patient's value (red raises, blue lowers). The factors' odds ratios "
        "multiply exactly to the ratio of this patient's odds to the reference's. "
        + factors_text(assessment, unit)
    )

    st.markdown("### What if")
    views = what_if_views(assessment, unit)
    if not views:
        st.write(NO_WHAT_IF)
    for view in views:
        with st.container(border=True):
            change, risk = st.columns([3, 2], vertical_alignment="center")
            change.markdown(f"**{view.title}**  \n{view.change}")
            risk.metric(
                f"Now {view.before}, would be",
                view.after,
                view.delta,
                delta_color="inverse",
                help=view.summary,
            )
    if views:
        st.caption(
            "Estimates for otherwise similar patients in the data, not proof that the change "
            "lowers this patient's risk. Only factors whose effect these data can estimate "
            "get a what-if (see the model card)."
        )
    if assessment.guidance:
        st.markdown("### Guideline advice (not from this model)")
        for advice in assessment.guidance:
            st.markdown(f"- **{advice.advice}** {advice.why_not_from_model} _{advice.source}_")
    st.info(assessment.disclaimer)
    st.caption(f"Model {assessment.model_tag}")
    st.markdown(model_card_markdown(service_url, assessment.model_tag))
    st.markdown("### Printable summary for the patient")
    # Built in memory on each run (a few ms); Streamlit keeps the bytes in memory too.
    st.download_button(
        "Download the patient summary (PDF)",
        summary_pdf(
            assessment,
            title=summary_title(),
            reference=reference,
            glucose_unit=unit,
            model_card_url=model_card_url(service_url),
        ),
        file_name="stroke-risk-summary.pdf",
        mime="application/pdf",
        on_click="ignore",
        icon=":material/print:",
        key="one.summary",
        help="For the patient, in plain words: the number, what raises it, advice to "
        "discuss, room for agreed actions and a review date.",
    )


def one_patient_tab(client: StrokeRiskClient) -> None:
    form_column, result_column = st.columns([1, 1], gap="large")
    with form_column:
        if patient_form():
            assess_submitted_patient(client)
    with result_column:
        for problem in st.session_state.get("one.problems", []):
            st.error(problem)
        if st.session_state.get("one.error"):
            show_error(*st.session_state["one.error"])
            st.caption("Your entries are kept: press 'Estimate risk' again once it is fixed.")
        result = st.session_state.get("one.result")
        if result is not None:
            if st.session_state.get("one.bmi_note"):
                st.caption(st.session_state["one.bmi_note"])
            show_assessment(
                result, st.session_state.get("one.reference", ""), glucose_unit(), client.base_url
            )
        elif not st.session_state.get("one.problems") and not st.session_state.get("one.error"):
            st.info("Fill in every field and press **Estimate risk**. " + DISCLAIMER)


def show_error(advice: str, detail: str | None = None) -> None:
    """What to do, in the clinic's words; the technical detail (address, setting, status)
    folded away for the IT contact."""
    st.error(advice)
    if detail and detail != advice:
        with st.expander("Technical details (for your IT contact)"):
            st.text(detail)


def score_upload(client: StrokeRiskClient, uploaded) -> None:
    progress = st.progress(0.0, "Scoring...")
    # The file and the unit it was read in: choosing another unit scores the file again.
    st.session_state["batch.file_id"] = (uploaded.file_id, glucose_unit())
    st.session_state["batch.upload"] = None
    st.session_state["batch.summaries"] = None
    st.session_state["batch.error"] = None
    try:
        st.session_state["batch.upload"] = score_patients_csv(
            io.BytesIO(uploaded.getvalue()),  # from the start, also when trying again
            client,
            on_progress=lambda done, total: progress.progress(
                done / total, f"Scored {done:,} of {total:,} patients"
            ),
            glucose_unit=glucose_unit(),
        )
    except DataError as exc:
        st.session_state["batch.error"] = (f"This file cannot be used: {exc}.", None)
    except ServiceError as exc:
        st.session_state["batch.error"] = (exc.advice, str(exc))
    finally:
        progress.empty()


def show_scored_upload(upload: ScoredUpload, file_name: str, service_url: str) -> None:
    if upload.errors:
        st.warning(problems_text(upload))
        with st.expander(f"Rows left out ({len(upload.skipped_lines)})"):
            st.dataframe(problems_frame(upload.errors), hide_index=True)
    results = upload.results
    if results.empty:
        st.error("No row could be scored: correct the rows listed above and upload again.")
        return
    counts = results["risk_band"].value_counts()
    ranges = band_ranges(upload.thresholds) if upload.thresholds else {}
    outcome = upload.outcome
    st.success(
        f"Scored {len(results):,} patients. {outcome.ranking} Glucose was read in "
        f"{upload.glucose_unit} unless the file said otherwise."
    )
    bands = list(reversed(BAND_COLOURS))  # high first, as in the table
    for column, band in zip(st.columns(len(bands)), bands, strict=True):
        label = band_counts_label(outcome, band, ranges.get(band))
        column.metric(label, int(counts.get(band, 0)))
    shown = [column for column in TABLE_COLUMNS if column in results.columns]
    st.dataframe(
        highlight_bands(results[shown]),
        hide_index=True,
        column_config=table_column_config(shown),
    )
    st.caption(worklist_caption(upload))
    st.download_button(
        "Download the scored CSV",
        scored_csv(results),
        file_name=f"{Path(file_name).stem}-scored.csv",
        mime="text/csv",
        on_click="ignore",
        type="primary",
        key="batch.download",
    )
    high_risk = high_risk_summaries(upload)
    if high_risk:
        st.markdown("**Printable summaries**")
        st.caption("Their title is set in the sidebar.")
        if st.button(
            f"Prepare one summary PDF per high-risk patient ({len(high_risk):,})",
            key="batch.prepare_summaries",
        ):
            with st.spinner("Writing the summaries..."):
                st.session_state["batch.summaries"] = summaries_zip(
                    high_risk,
                    title=summary_title(),
                    glucose_unit=glucose_unit(),
                    model_card_url=model_card_url(service_url),
                )
        if st.session_state.get("batch.summaries"):
            st.download_button(
                "Download the high-risk summaries (zip)",
                st.session_state["batch.summaries"],
                file_name=f"{Path(file_name).stem}-high-risk-summaries.zip",
                mime="application/zip",
                on_click="ignore",
                key="batch.summaries_download",
            )
    tag = results["model_tag"].iloc[0]
    st.caption(f"{DISCLAIMER} Model {tag}")
    st.markdown(model_card_markdown(service_url, tag))


def many_patients_tab(client: StrokeRiskClient) -> None:
    unit = glucose_unit()
    st.markdown(upload_instructions(unit))
    samples = st.columns(2)
    for column, sample_unit in zip(samples, GLUCOSE_UNITS, strict=True):
        column.download_button(
            f"Sample file, glucose in {sample_unit}",
            sample_csv(sample_unit),
            file_name=f"stroke-risk-sample-{sample_unit.replace('/', '-per-')}.csv",
            mime="text/csv",
            on_click="ignore",
            icon=":material/download:",
            key=f"batch.sample.{sample_unit}",
        )
    uploaded = st.file_uploader("Patients (CSV)", type=["csv"], key="batch.file")
    if uploaded is None:
        st.session_state["batch.file_id"] = None
        return
    if st.session_state.get("batch.file_id") != (uploaded.file_id, unit):
        score_upload(client, uploaded)
    if st.session_state.get("batch.error"):
        show_error(*st.session_state["batch.error"])
        if st.button("Try again", key="batch.retry"):
            score_upload(client, uploaded)
            st.rerun()
    elif st.session_state.get("batch.upload") is not None:
        show_scored_upload(st.session_state["batch.upload"], uploaded.name, client.base_url)


def require_sign_in() -> None:
    """Before anything else: refuse to serve beyond loopback without sign-in, and ask for
    the OIDC login when it is configured (stroke_risk.app.sign_in decides which)."""
    access = access_from_settings(st.get_option("server.address"), oidc_configured())
    if access.refusal is not None:
        st.title("Stroke decision support")
        st.error(access.refusal)
        st.stop()
    if access.login and not st.user.is_logged_in:
        st.title("Stroke decision support")
        st.write("Sign in with your practice account to use the app.")
        st.button("Sign in", type="primary", on_click=st.login, key="sign_in")
        st.stop()
    if access.login:
        st.sidebar.button("Sign out", on_click=st.logout, key="sign_out")


def oidc_configured() -> bool:
    """True when .streamlit/secrets.toml has Streamlit's [auth] section."""
    try:
        return "auth" in st.secrets
    except FileNotFoundError:
        return False


st.set_page_config(page_title="Stroke decision support", layout="wide")
require_sign_in()
client = StrokeRiskClient.from_environment(secrets_for_client())
st.title("Stroke decision support")
st.caption(
    "A calibrated, explained estimate for GPs and clinics. Decision support, not a diagnosis."
)
# The service's address is not shown to the GP: it appears only in an error's technical
# details, for the IT contact.
summary_title_input()
unit_selectors()
one_patient, many_patients = st.tabs(["One patient", "Many patients (CSV upload)"])
with one_patient:
    one_patient_tab(client)
with many_patients:
    many_patients_tab(client)
