"""EHR integration by the standards: FHIR R4 in, a RiskAssessment and CDS Hooks cards out."""

from stroke_risk.fhir.validator_speedups import install

# Before any fhir.resources model class is built (see validator_speedups).
install()
