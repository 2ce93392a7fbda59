"""A printable one-page summary for the patient: the risk, what drives it and a plan.

The original purpose of the project was to "work with the patients to design a plan": the
GP prints this, talks it through and writes the agreed actions and a review date on it.
Every number comes from the service's reply (:class:`Assessment`); every sentence from
:mod:`stroke_risk.app.views`, so screen and paper say the same thing.

Built in memory with fpdf2 and returned as bytes: no patient data is written to disk on the
server. The built-in Helvetica font keeps a page around 10 KB (no font file to embed); it
covers Latin-1 only, so the few other characters the views use are spelled out.
"""

from __future__ import annotations

import io
import math
import zipfile
from collections.abc import Iterable
from datetime import date

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from stroke_risk.app.views import (
    band_text,
    comparison_text,
    factors_frame,
    interval_text,
    people_like_this,
    reference_text,
    what_if_views,
)
from stroke_risk.core.responses import Assessment
from stroke_risk.core.units import GlucoseUnit

DEFAULT_TITLE = "Your stroke risk: summary and plan"
# Characters the views use that Helvetica (Latin-1) lacks, and how they are printed.
_PLAIN = str.maketrans({"→": "->", "–": "-", "—": "-", "’": "'", "‘": "'", "“": '"', "”": '"'})
DIRECTION_RGB = {"raises": (214, 39, 40), "lowers": (42, 122, 176), "none": (153, 153, 153)}
AGREED_ACTION_LINES = 4


def _plain(text: str) -> str:
    return text.translate(_PLAIN).encode("latin-1", "replace").decode("latin-1")


class _SummaryPage(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=7)
        self.set_text_color(110)
        self.cell(0, 5, _plain(self.footer_text), align="C")

    footer_text = ""


def _heading(pdf: FPDF, text: str) -> None:
    pdf.ln(2)
    pdf.set_font("Helvetica", "B", 11)
    pdf.set_text_color(0)
    pdf.cell(0, 7, _plain(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", size=9.5)


def _paragraph(pdf: FPDF, text: str, height: float = 5) -> None:
    pdf.multi_cell(0, height, _plain(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _drivers_chart(pdf: FPDF, assessment: Assessment, glucose_unit: GlucoseUnit) -> None:
    """Odds ratios as bars on a log scale around 1 (the reference patient), with the number
    printed beside each bar, so the chart reads in black and white too."""
    frame = factors_frame(assessment, glucose_unit)
    if frame.empty:
        _paragraph(pdf, "No factor differs from the reference patient.")
        return
    label_width, bar_width, row = 78.0, 80.0, 5.5
    span = max(math.log(2.0), *(abs(math.log(max(r, 1e-6))) for r in frame["odds_ratio"]))
    centre = pdf.l_margin + label_width + bar_width / 2
    top = pdf.get_y()
    for position, item in enumerate(frame.itertuples()):
        y = top + position * row
        pdf.set_xy(pdf.l_margin, y)
        pdf.cell(label_width, row, _plain(item.factor))
        length = bar_width / 2 * math.log(max(item.odds_ratio, 1e-6)) / span
        pdf.set_fill_color(*DIRECTION_RGB[item.direction])
        pdf.rect(min(centre, centre + length), y + 1, max(abs(length), 0.3), row - 2, style="F")
        pdf.set_xy(pdf.l_margin + label_width + bar_width + 2, y)
        pdf.cell(30, row, _plain(f"x {item.odds_ratio:.2f} ({item.direction})"))
    bottom = top + len(frame) * row
    pdf.set_draw_color(60)
    pdf.line(centre, top, centre, bottom)
    pdf.set_xy(pdf.l_margin, bottom + 1)
    pdf.set_font("Helvetica", size=7.5)
    _paragraph(
        pdf,
        "Each bar: how many times the factor multiplies the odds compared with the reference "
        "patient's value (log scale; right of the line raises the risk, left lowers it).",
        4,
    )
    pdf.set_font("Helvetica", size=9.5)


def summary_pdf(
    assessment: Assessment,
    *,
    title: str = DEFAULT_TITLE,
    reference: str = "",
    on: date | None = None,
    glucose_unit: GlucoseUnit = "mg/dL",
) -> bytes:
    """The patient's one-page summary as PDF bytes (built in memory, never on disk)."""
    pdf = _SummaryPage(format="A4")
    pdf.footer_text = f"{assessment.disclaimer}  Model {assessment.model_tag}"
    pdf.set_title(_plain(title))
    pdf.set_creator("stroke-risk")
    pdf.set_margins(15, 14, 15)
    pdf.set_auto_page_break(True, margin=16)
    pdf.add_page()

    pdf.set_font("Helvetica", "B", 16)
    _paragraph(pdf, title or DEFAULT_TITLE, 8)
    pdf.set_font("Helvetica", size=9.5)
    pdf.set_text_color(80)
    who = f"For: {reference}    " if reference else ""
    pdf.cell(0, 5, _plain(f"{who}Date: {(on or date.today()).isoformat()}"))
    pdf.ln(7)
    pdf.set_text_color(0)

    _heading(pdf, "Your estimated risk")
    pdf.set_font("Helvetica", "B", 13)
    _paragraph(pdf, f"{interval_text(assessment)} - {band_text(assessment)}", 7)
    pdf.set_font("Helvetica", size=9.5)
    _paragraph(
        pdf,
        f"In words: {people_like_this(assessment.probability)} have had a stroke.",
    )
    if assessment.probability_interval is not None:
        _paragraph(
            pdf,
            "The range in brackets is the 95% uncertainty interval: the model's own procedure, "
            "repeated on other samples of the same data, gives results in this range.",
        )
    _paragraph(pdf, comparison_text(assessment))
    for warning in assessment.warnings:
        _paragraph(pdf, f"Note: {warning}")

    _heading(pdf, "What drives this estimate")
    _paragraph(pdf, reference_text(assessment, glucose_unit))
    pdf.ln(1)
    _drivers_chart(pdf, assessment, glucose_unit)

    _heading(pdf, "What could help: a plan to agree together")
    views = what_if_views(assessment, glucose_unit)
    if not views:
        _paragraph(pdf, "Glucose is already at or below its healthy target.")
    for view in views:
        _paragraph(pdf, f"- {view.title}. {view.summary}")
    if views:
        pdf.set_font("Helvetica", "I", 8)
        _paragraph(
            pdf,
            "Estimates for otherwise similar patients in the data, not proof that the change "
            "lowers this patient's risk.",
            4,
        )
        pdf.set_font("Helvetica", size=9.5)
    for advice in assessment.guidance:
        _paragraph(
            pdf, f"- {advice.advice} (guideline advice, not from this model: {advice.source})"
        )

    _heading(pdf, "Actions we agreed")
    pdf.set_draw_color(150)
    for _ in range(AGREED_ACTION_LINES):
        pdf.ln(7)
        pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
    pdf.ln(4)
    pdf.cell(0, 7, "Review date: ____ / ____ / ________      Signed: ______________________")
    pdf.ln(9)
    pdf.set_font("Helvetica", "B", 9)
    _paragraph(pdf, assessment.disclaimer)
    pdf.set_font("Helvetica", size=8)
    _paragraph(pdf, f"Model {assessment.model_tag}")
    return bytes(pdf.output())


def summaries_zip(
    named_assessments: Iterable[tuple[str, Assessment]],
    *,
    title: str = DEFAULT_TITLE,
    on: date | None = None,
    glucose_unit: GlucoseUnit = "mg/dL",
) -> bytes:
    """One summary PDF per (reference, assessment) in a zip file, built in memory."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for position, (reference, assessment) in enumerate(named_assessments, start=1):
            safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in reference)[:40]
            archive.writestr(
                f"{position:03d}-{safe or 'patient'}.pdf",
                summary_pdf(
                    assessment, title=title, reference=reference, on=on, glucose_unit=glucose_unit
                ),
            )
    return buffer.getvalue()
