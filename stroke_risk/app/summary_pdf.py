"""A printable handout for the patient: the number in plain words, what moves it, advice
to talk over, and room for what the GP and patient agree.

It speaks to the patient ("you"), in short sentences a test measures (Flesch-Kincaid grade
8 or below for the body text, :func:`handout_sections`), with no odds, log scales or
jargon: the clinician's view (drivers as odds ratios, the reference patient, the interval's
technical name) stays in the app. What the number is comes from the reply's ``outcome``
(the model's record): for the shipped model, how many people like the patient in the
records had had a stroke, and that it does not forecast a future stroke. A small "for
your doctor" block at the foot names the interval, the warnings and the served model card.

Built in memory with fpdf2 and returned as bytes: no patient data is written to disk on the
server. The built-in Helvetica font keeps a page around 10 KB (no font file to embed); it
covers Latin-1 only, so the few other characters the views use are spelled out.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from stroke_risk.app.views import band_ranges, format_value, interval_text, percent_text
from stroke_risk.core.reply_flags import (
    PATIENT_BAND_NOT_SETTLED,
    PATIENT_BEYOND_THE_DATA,
    flag_sentences,
)
from stroke_risk.core.responses import Assessment, Factor
from stroke_risk.core.units import GlucoseUnit, glucose_text

DEFAULT_TITLE = "Your health check: notes to talk over with your doctor"
ADVICE_HEADING = "Advice to talk over with your doctor (not a plan from this tool)"
# Characters the views use that Helvetica (Latin-1) lacks, and how they are printed.
_PLAIN = str.maketrans({"→": "->", "–": "-", "—": "-", "’": "'", "‘": "'", "“": '"', "”": '"'})
AGREED_ACTION_LINES = 4
# Guideline advice in the patient's words; the reply's own wording goes to the doctor's
# block with its source.
PATIENT_ADVICE: dict[str, str] = {
    "smoking_status": "Stopping smoking helps prevent strokes. We can help you stop.",
    "bmi": "Losing weight can lower your blood pressure and your chance of diabetes.",
    "hypertension": "Keeping your blood pressure down is the best way to prevent a stroke.",
}


def _plain(text: str) -> str:
    return text.translate(_PLAIN).encode("latin-1", "replace").decode("latin-1")


def _what_it_is(factor: Factor, glucose_unit: GlucoseUnit) -> str:
    """A factor in the patient's words: 'your age (67 years)', 'having high blood pressure'."""
    value = factor.value
    if factor.factor == "hypertension":
        return "having high blood pressure" if value == 1 else "not having high blood pressure"
    if factor.factor == "heart_disease":
        return "having heart disease" if value == 1 else "not having heart disease"
    if factor.factor == "avg_glucose_level":
        shown = "not known" if value is None else glucose_text(float(value), glucose_unit)
        return f"your blood sugar ({shown})"
    if factor.factor == "bmi":
        return f"your weight for your height (BMI {format_value('bmi', value)})"
    if factor.factor == "smoking_status":
        return f"your smoking ({format_value('smoking_status', value).lower()})"
    return f"your {factor.label.lower()} ({format_value(factor.factor, value, glucose_unit)})"


@dataclass(frozen=True)
class Section:
    """One heading of the handout and its paragraphs (the body text a test measures)."""

    heading: str
    paragraphs: list[str]


def number_section(assessment: Assessment) -> Section:
    """What the number is, in the patient's words, from the reply's outcome."""
    outcome = assessment.outcome
    meaning = band_ranges(assessment.risk_band_thresholds)[assessment.risk_band]
    paragraphs = [
        f"Your number is {percent_text(assessment.probability)}.",
        outcome.for_the_patient(assessment.probability),
        f"This puts you in the {assessment.risk_band} group ({meaning}).",
    ]
    if assessment.probability_interval is not None:
        low, high = assessment.probability_interval
        paragraphs.append(
            f"The tool is not exact. Your number could be anywhere from {percent_text(low)} "
            f"to {percent_text(high)}."
        )
    if assessment.interval_crosses_band_edge:
        paragraphs.append(PATIENT_BAND_NOT_SETTLED)
    if assessment.beyond_data:
        paragraphs.append(PATIENT_BEYOND_THE_DATA)
    peers = assessment.comparison
    paragraphs.append(
        f"For people of your sex and age, the average is {percent_text(peers.average_risk)}."
    )
    return Section("What your number means", paragraphs)


def drivers_section(assessment: Assessment, glucose_unit: GlucoseUnit) -> Section:
    """What raises or lowers the number: the reply's clinical factors, then its context
    factors (residence, work, marriage) apart, never as something to change."""
    health = [f for f in assessment.contributing_factors if f.direction != "none"]
    context = [f for f in assessment.context_factors if f.direction != "none"]
    paragraphs = [
        f"- {_what_it_is(f, glucose_unit).capitalize()} {f.direction} your number." for f in health
    ]
    if not health:
        paragraphs.append("None of your health details moves your number much.")
    if context:
        paragraphs.append(
            "Some facts about your life also move it a little, like "
            + " and ".join(_what_it_is(f, glucose_unit) for f in context)
            + ". These are not things you need to change."
        )
    return Section("What moves your number", paragraphs)


def advice_section(assessment: Assessment, glucose_unit: GlucoseUnit) -> Section:
    """Advice to discuss: the supported what-ifs, then guideline advice, each labelled."""
    paragraphs = []
    for what_if in assessment.what_if:
        if what_if.factor == "avg_glucose_level":
            target = glucose_text(float(what_if.target_value), glucose_unit)
            change = f"If your blood sugar came down to {target}"
        else:
            change = f"If you could {what_if.change}"
        paragraphs.append(
            f"- {change}, the number for people like you would be "
            f"{percent_text(what_if.probability)}, not {percent_text(assessment.probability)}. "
            "This does not prove that the change would help you."
        )
    if not assessment.what_if and not assessment.guidance:
        paragraphs.append("- Keep up your checks with your doctor.")
    for advice in assessment.guidance:
        paragraphs.append(f"- {PATIENT_ADVICE.get(advice.factor, advice.advice)}")
    if assessment.guidance:
        paragraphs.append("This advice comes from health guides, not from this tool.")
    return Section(ADVICE_HEADING, paragraphs)


def handout_sections(assessment: Assessment, glucose_unit: GlucoseUnit = "mg/dL") -> list[Section]:
    """The handout's body, section by section (what its reading level is measured on)."""
    return [
        number_section(assessment),
        drivers_section(assessment, glucose_unit),
        advice_section(assessment, glucose_unit),
    ]


def for_the_doctor(assessment: Assessment, model_card_url: str | None) -> list[str]:
    """The fine print at the foot: the clinician's terms, warnings, sources, the card."""
    outcome = assessment.outcome
    lines = [f"For your doctor: {outcome.label}, {interval_text(assessment)}."]
    if assessment.probability_interval is not None:
        lines.append(f"The range is the 95% interval: {assessment.interval_name}.")
    if outcome.not_prospective:
        lines.append(outcome.not_prospective)
    lines += flag_sentences(assessment.model_dump())
    lines += [f"Note: {warning}" for warning in assessment.warnings]
    lines += [f"Guideline advice: {a.advice} ({a.source})" for a in assessment.guidance]
    if model_card_url:
        lines.append(f"Model card: {model_card_url}")
    return lines


class _SummaryPage(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=7)
        self.set_text_color(110)
        self.cell(0, 5, _plain(self.footer_text), align="C")

    footer_text = ""


def _heading(pdf: FPDF, text: str) -> None:
    pdf.ln(2)
    pdf.set_font("Helvetica", "B", 12)
    pdf.set_text_color(0)
    pdf.cell(0, 7, _plain(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", size=11)


def _paragraph(pdf: FPDF, text: str, height: float = 5.5) -> None:
    pdf.multi_cell(0, height, _plain(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def summary_pdf(
    assessment: Assessment,
    *,
    title: str = DEFAULT_TITLE,
    reference: str = "",
    on: date | None = None,
    glucose_unit: GlucoseUnit = "mg/dL",
    model_card_url: str | None = None,
) -> bytes:
    """The patient's handout as PDF bytes (built in memory, never on disk).
    ``model_card_url``: the served card of the model that answered, printed at the foot."""
    pdf = _SummaryPage(format="A4")
    pdf.footer_text = f"{assessment.disclaimer}  Model {assessment.model_tag}"
    pdf.set_title(_plain(title or DEFAULT_TITLE))
    pdf.set_creator("stroke-risk")
    pdf.set_margins(15, 14, 15)
    pdf.set_auto_page_break(True, margin=16)
    pdf.add_page()

    pdf.set_font("Helvetica", "B", 16)
    _paragraph(pdf, title or DEFAULT_TITLE, 8)
    pdf.set_font("Helvetica", size=10)
    pdf.set_text_color(80)
    who = f"For: {reference}    " if reference else ""
    pdf.cell(0, 5, _plain(f"{who}Date: {(on or date.today()).isoformat()}"))
    pdf.ln(7)
    pdf.set_text_color(0)

    for section in handout_sections(assessment, glucose_unit):
        _heading(pdf, section.heading)
        for paragraph in section.paragraphs:
            _paragraph(pdf, paragraph)

    _heading(pdf, "What we agreed")
    pdf.set_draw_color(150)
    for _ in range(AGREED_ACTION_LINES):
        pdf.ln(7)
        pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
    pdf.ln(4)
    pdf.cell(0, 7, "Review date: ____ / ____ / ________      Signed: ______________________")
    pdf.ln(9)
    pdf.set_font("Helvetica", "B", 9)
    _paragraph(pdf, assessment.disclaimer, 4.5)
    pdf.set_font("Helvetica", size=7.5)
    pdf.set_text_color(70)
    for line in for_the_doctor(assessment, model_card_url):
        _paragraph(pdf, line, 3.8)
    _paragraph(pdf, f"Model {assessment.model_tag}", 3.8)
    return bytes(pdf.output())


def summaries_zip(
    named_assessments: Iterable[tuple[str, Assessment]],
    *,
    title: str = DEFAULT_TITLE,
    on: date | None = None,
    glucose_unit: GlucoseUnit = "mg/dL",
    model_card_url: str | None = None,
) -> bytes:
    """One summary PDF per (reference, assessment) in a zip file, built in memory."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for position, (reference, assessment) in enumerate(named_assessments, start=1):
            safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in reference)[:40]
            archive.writestr(
                f"{position:03d}-{safe or 'patient'}.pdf",
                summary_pdf(
                    assessment,
                    title=title,
                    reference=reference,
                    on=on,
                    glucose_unit=glucose_unit,
                    model_card_url=model_card_url,
                ),
            )
    return buffer.getvalue()
