"""`system_client`: someone else at the hospital, acting at Millennium meanwhile (front desk,
another system), with the app's own system account."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import requests

from smartapp.testing.personas import SeededPatient

if TYPE_CHECKING:
    from smartapp.tenants.models import Tenant

FHIR_JSON = "application/fhir+json"


class SystemClient:
    """FHIR calls with the tenant's system client (client_credentials), straight to Millennium:
    not through the app's pages, and not recorded in the app's audit trail."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant
        self.base = tenant.provider_fhir_base.rstrip("/")

    def _headers(self) -> dict[str, str]:
        from smartapp.tenants.system_client import system_access_token

        token = system_access_token(tenant=self.tenant)
        return {
            "Authorization": f"Bearer {token}",
            "Accept": FHIR_JSON,
            "Content-Type": FHIR_JSON,
        }

    def get(self, path: str, **params: str) -> requests.Response:
        """`get("Patient/12724066")`, `get("Appointment", patient="12724066", date="ge2026-01-01")`."""
        return requests.get(
            f"{self.base}/{path.lstrip('/')}", params=params, headers=self._headers(), timeout=20
        )

    def read(self, resource_type: str, fhir_id: str) -> dict[str, Any]:
        response = self.get(f"{resource_type}/{fhir_id}")
        if response.status_code != 200:
            raise AssertionError(f"{resource_type}/{fhir_id}: {response.status_code}")
        body: dict[str, Any] = response.json()
        return body

    def book(
        self,
        slot_id: str,
        patient: SeededPatient | str,
        *,
        reason: str = "booked at the front desk",
    ) -> str:
        """Books a slot for a patient, as the front desk would; returns the Appointment id."""
        from smartapp.clinical.booking import appointment_body

        patient_id = patient if isinstance(patient, str) else patient.fhir_id
        body = appointment_body(slot_id=slot_id, patient_id=patient_id, reason=reason)
        response = requests.post(
            f"{self.base}/Appointment", json=body, headers=self._headers(), timeout=20
        )
        if response.status_code != 201:
            raise AssertionError(f"booking {slot_id}: {response.status_code} {response.text}")
        return response.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
