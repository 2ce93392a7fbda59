"""EHR integration by the standards: FHIR R4 in, a RiskAssessment and CDS Hooks cards out."""
