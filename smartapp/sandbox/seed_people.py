"""FHIR bodies for seeded people, shaped like Millennium's examples (r4_patient_read.json …)."""

from datetime import date
from typing import Any

from smartapp.sandbox.fhir.patient import MRN_SYSTEM
from smartapp.sandbox.fhir.practitioner import NPI_SYSTEM

EXT = "https://fhir-ehr.cerner.com/r4/StructureDefinition"
UPDATED = "2024-05-02T14:00:00.000Z"
DATA_ABSENT = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"


def _codeset(tenant: str, code_set: int, code: str, display: str) -> dict[str, Any]:
    return {
        "system": f"https://fhir.cerner.com/{tenant}/codeSet/{code_set}",
        "code": code,
        "display": display,
        "userSelected": True,
    }


def _address(line: str, city: str, state: str, postal: str, use: str) -> dict[str, Any]:
    return {
        "use": use,
        "text": f"{line}\n{city}, {state} {postal}\nUS",
        "line": [line],
        "city": city,
        "state": state,
        "postalCode": postal,
        "country": "US",
    }


def _div(rows: list[tuple[str, str]], kind: str) -> str:
    from django.utils.html import escape

    body = "".join(f"<p><b>{escape(k)}</b>: {escape(v)}</p>" for k, v in rows)
    return f'<div xmlns="http://www.w3.org/1999/xhtml"><p><b>{kind}</b></p>{body}</div>'


def _old_mrns(
    fhir_id: str, mrn_type: dict[str, Any], old_mrn: tuple[str, str] | None
) -> list[dict[str, Any]]:
    """Millennium lists an ended MRN beside the current one (r4_patient_read.json)."""
    if old_mrn is None:
        return []
    value, end = old_mrn
    return [
        {
            "id": f"CI-{fhir_id}-1",
            "use": "usual",
            "type": mrn_type,
            "system": MRN_SYSTEM,
            "value": value,
            "period": {"end": end},
        }
    ]


def patient_resource(
    *,
    tenant: str,
    fhir_id: str,
    family: str,
    given: list[str],
    gender: str,
    birth: date,
    mrn: str,
    phone: str,
    email: str,
    address: tuple[str, str, str, str],
    old_mrn: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """`old_mrn` (value, end instant) adds an ended MRN before the current one."""
    text = f"{family}, {' '.join(given)}"
    mrn_type = {
        "coding": [
            _codeset(tenant, 4, "10", "MRN"),
            {
                "system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                "code": "MR",
                "display": "Medical record number",
                "userSelected": False,
            },
        ],
        "text": "MRN",
    }
    return {
        "resourceType": "Patient",
        "id": fhir_id,
        "meta": {"versionId": "1", "lastUpdated": UPDATED},
        "text": {
            "status": "generated",
            "div": _div(
                [
                    ("Name", text),
                    ("Status", "Active"),
                    ("DOB", birth.strftime("%b %d, %Y")),
                    ("Administrative Gender", gender.title()),
                ],
                "Patient",
            ),
        },
        "identifier": [
            *_old_mrns(fhir_id, mrn_type, old_mrn),
            {
                "id": f"CI-{fhir_id}-0",
                "use": "usual",
                "type": mrn_type,
                "system": MRN_SYSTEM,
                "value": mrn,
                "period": {"start": "2019-12-26T15:14:12.000Z"},
            },
        ],
        "active": True,
        "name": [
            {
                "id": f"CI-{fhir_id}-0",
                "use": "official",
                "text": text,
                "family": family,
                "given": given,
            }
        ],
        "telecom": [
            {
                "id": f"CI-PH-{fhir_id}-0",
                "system": "phone",
                "value": phone,
                "use": "home",
                "rank": 1,
            },
            {
                "id": f"CI-EM-{fhir_id}-0",
                "system": "email",
                "value": email,
                "use": "home",
                "rank": 1,
            },
        ],
        "gender": gender,
        "birthDate": birth.isoformat(),
        "deceasedBoolean": False,
        "address": [{"id": f"CI-{fhir_id}-A", **_address(*address, use="home")}],
    }


def combined_patient_resource(*, fhir_id: str, replaced_by: str) -> dict[str, Any]:
    """A record combined into another: inactive, data-absent, linked (r4_patient_read_combined)."""
    absent = {"extension": [{"valueCode": "unknown", "url": DATA_ABSENT}]}
    return {
        "resourceType": "Patient",
        "id": fhir_id,
        "meta": {"versionId": "0"},
        "text": {
            "status": "generated",
            "div": _div(
                [("Status", "Inactive"), ("Replaced By", f"Patient/{replaced_by}")], "Patient"
            ),
        },
        "identifier": [absent],
        "active": False,
        "name": [absent],
        "_gender": absent,
        "link": [{"other": {"reference": f"Patient/{replaced_by}"}, "type": "replaced-by"}],
    }


def practitioner_resource(
    *,
    fhir_id: str,
    family: str,
    given: list[str],
    gender: str,
    npi: str,
    phone: str,
) -> dict[str, Any]:
    text = f"{family}, {' '.join(given)}"
    return {
        "resourceType": "Practitioner",
        "id": fhir_id,
        "meta": {"versionId": "1", "lastUpdated": UPDATED},
        "text": {
            "status": "generated",
            "div": _div(
                [
                    ("Name", text),
                    ("Identifiers", f"NPI: {npi}"),
                    ("Gender", gender.title()),
                    ("Status", "Active"),
                ],
                "Practitioner",
            ),
        },
        "extension": [{"valueBoolean": True, "url": f"{EXT}/is-physician"}],
        "identifier": [
            {
                "use": "usual",
                "type": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                            "code": "NPI",
                            "display": "National provider identifier",
                        }
                    ],
                    "text": "National Provider Identifier",
                },
                "system": NPI_SYSTEM,
                "value": npi,
                "period": {"start": "2015-10-14T05:00:00.000Z"},
            }
        ],
        "active": True,
        "name": [{"use": "usual", "text": text, "family": family, "given": given}],
        "telecom": [{"system": "phone", "value": phone, "use": "work"}],
        "address": [_address("1234 Main", "Kansas City", "MO", "64111", use="work")],
        "gender": gender,
    }


def encounter_resource(
    *,
    tenant: str,
    fhir_id: str,
    patient_id: str,
    patient_name: str,
    start: str,
    status: str,
) -> dict[str, Any]:
    return {
        "resourceType": "Encounter",
        "id": fhir_id,
        "meta": {"versionId": "1", "lastUpdated": UPDATED},
        "status": status,
        "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": "AMB",
            "display": "ambulatory",
        },
        "type": [{"coding": [_codeset(tenant, 71, "309309", "Outpatient")], "text": "Outpatient"}],
        "subject": {"reference": f"Patient/{patient_id}", "display": patient_name},
        "period": {"start": start},
    }
