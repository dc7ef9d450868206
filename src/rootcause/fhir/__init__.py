"""FHIR R4 in and out: Bundle → case (``reader``), Assessment → RiskAssessment (``risk``).

Models come from ``fhir.resources.R4B`` (see ``reader`` for why R4B), and every code comes from the
mapping table ``knowledge/data/fhir_mapping.yaml`` (``mapping``), documented in docs/fhir.md.
"""

from rootcause.fhir.mapping import FhirMapping, load_mapping
from rootcause.fhir.reader import FhirCase, FhirInputError, FhirReader, bundle_to_case
from rootcause.fhir.risk import risk_assessment, risk_assessment_json

__all__ = [
    "FhirCase",
    "FhirInputError",
    "FhirMapping",
    "FhirReader",
    "bundle_to_case",
    "load_mapping",
    "risk_assessment",
    "risk_assessment_json",
]
