"""The Messages API (non-FHIR patient-portal messaging, FACTS §2.12); see the sandbox README."""
