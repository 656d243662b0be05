"""Deterministic sandbox data: the same --size always gives the same people, ids and clients."""

import json
import random
import secrets
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from django.db import transaction

from smartapp.sandbox import keys, links
from smartapp.sandbox.models import (
    Appointment,
    Client,
    Encounter,
    Grant,
    LaunchContext,
    Location,
    Patient,
    PendingAuthorization,
    Practitioner,
    RevokedToken,
    SandboxSettings,
    Schedule,
    Slot,
)
from smartapp.sandbox.scheduling import SERVICE_TYPES, service_system
from smartapp.sandbox.seed_accounts import seed_accounts, tenant_keys
from smartapp.sandbox.seed_messages import seed_visits_and_messages
from smartapp.sandbox.seed_people import (
    combined_patient_resource,
    encounter_resource,
    patient_resource,
    practitioner_resource,
)
from smartapp.sandbox.seed_schedules import CLINIC_TZ, seed_schedules

SEED = 20240502
FAMILIES = [
    "Smart",
    "Nguyen",
    "Okafor",
    "Lindqvist",
    "Haddad",
    "Kowalski",
    "Moreno",
    "Tanaka",
    "Fitzgerald",
    "Patel",
    "Abernathy",
    "Chen",
    "Dubois",
    "Mensah",
    "Rossi",
    "Yilmaz",
]
GIVEN_F = ["Nancy", "Amara", "Ingrid", "Leila", "Sofia", "Mei", "Chloé", "Priya", "Hannah", "Zoe"]
GIVEN_M = ["Joe", "Tomasz", "Kenji", "Diego", "Kwame", "Luca", "Omar", "Liam", "Arjun", "Felix"]
# Text that must be escaped wherever the app shows a name.
TRICKY = [
    ("O'Brien", ["Siobhan"], "female"),
    ("D'Angelo-Smith", ["Jean-Luc"], "male"),
    ("Tester", ["<script>alert(1)</script>"], "female"),
]
CITIES = [
    ("Kansas City", "MO", "64111"),
    ("Overland Park", "KS", "66210"),
    ("Columbia", "MO", "65201"),
]
# The first patient's MRN before its current one (value and end as in r4_patient_read.json).
OLD_MRN = ("6978", "2020-07-06T21:21:25.000Z")

PROVIDER_SCOPES = (
    "launch openid fhirUser profile online_access "
    "user/Patient.read user/Practitioner.read user/Encounter.read user/Encounter.write "
    "user/Appointment.read user/Appointment.write user/Slot.read user/Slot.write "
    "user/Schedule.read user/Location.read user/Account.read user/Communication.read "
    "user/Communication.write user/Binary.read user/Coverage.read "
    "patient/Patient.read patient/Encounter.read patient/Appointment.read "
    "oraclehealth:millennium:message"
)
PATIENT_SCOPES = (
    "launch/patient openid fhirUser profile offline_access online_access "
    "patient/Patient.read patient/Encounter.read patient/Appointment.read patient/Slot.read "
    "patient/Schedule.read patient/Binary.read patient/Coverage.read "
    "user/Practitioner.read user/Location.read user/Slot.read user/Schedule.read"
)
SYSTEM_SCOPES = (
    "system/Patient.read system/Practitioner.read system/Encounter.read system/Encounter.write "
    "system/Appointment.read system/Appointment.write system/Slot.read system/Slot.write "
    "system/Schedule.read system/Location.read system/Account.read system/Communication.read "
    "system/Communication.write system/Binary.read system/Basic.write "
    "system/FinancialTransaction.write system/Coverage.read oraclehealth:millennium:message"
)


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _practitioners(rng: random.Random, tenant: str, count: int, first_id: int) -> None:
    for i in range(count):
        gender = rng.choice(["female", "male"])
        given = [rng.choice(GIVEN_F if gender == "female" else GIVEN_M)]
        family = FAMILIES[(i * 5 + 3) % len(FAMILIES)] if i else "Cerner Test"
        fhir_id, npi = str(first_id + i), str(1111111111 + i * 7919)
        resource = practitioner_resource(
            fhir_id=fhir_id,
            family=family,
            given=given,
            gender=gender,
            npi=npi,
            phone=f"555555{i:04d}",
        )
        Practitioner.objects.create(
            tenant_id=tenant,
            fhir_id=fhir_id,
            username=f"clinician{i + 1}",
            family=family,
            given=" ".join(given),
            npi=npi,
            resource=resource,
        )


def _person(rng: random.Random, i: int) -> tuple[str, list[str], str]:
    if 1 <= i <= len(TRICKY):
        family, given, gender = TRICKY[i - 1]
        return family, list(given), gender
    gender = rng.choice(["female", "male"])
    given = [rng.choice(GIVEN_F if gender == "female" else GIVEN_M)]
    return ("Smart" if i == 0 else rng.choice(FAMILIES)), given, gender


def _patient(rng: random.Random, tenant: str, i: int, fhir_id: str) -> Patient:
    family, given, gender = _person(rng, i)
    birth = date(1940, 1, 1) + timedelta(days=rng.randrange(0, 365 * 80))
    city, state, postal = rng.choice(CITIES)
    mrn, phone = str(6931 + i * 13), f"816{rng.randrange(1000000, 9999999)}"
    email = f"patient{i + 1}@example.org"
    resource = patient_resource(
        tenant=tenant,
        fhir_id=fhir_id,
        family=family,
        given=given,
        gender=gender,
        birth=birth,
        mrn=mrn,
        phone=phone,
        email=email,
        address=(f"{rng.randrange(100, 9999)} Main St", city, state, postal),
        old_mrn=OLD_MRN if (tenant, i) == (links.TENANT, 0) else None,
    )
    return Patient.objects.create(
        tenant_id=tenant,
        fhir_id=fhir_id,
        username=f"patient{i + 1}",
        family=family,
        given=" ".join(given),
        birth_date=birth,
        gender=gender,
        mrn=mrn,
        phone=phone,
        email=email,
        postal_code=postal,
        resource=resource,
    )


def _patients(rng: random.Random, tenant: str, count: int, first_id: int) -> None:
    encounter_id = first_id + 85_000_000
    for i in range(count):
        patient = _patient(rng, tenant, i, str(first_id + i))
        for n in range(1 + rng.randrange(2)):
            start = date(2024, 1, 1) + timedelta(days=rng.randrange(0, 700))
            status = "finished" if n == 0 else "planned"
            resource = encounter_resource(
                tenant=tenant,
                fhir_id=str(encounter_id),
                patient_id=patient.fhir_id,
                patient_name=patient.display_name,
                start=f"{start.isoformat()}T15:00:00.000Z",
                status=status,
            )
            Encounter.objects.create(
                tenant_id=tenant, fhir_id=str(encounter_id), patient=patient, resource=resource
            )
            encounter_id += 1


def _merged_patient(tenant: str, fhir_id: str, survivor: str) -> None:
    """A record combined into `survivor`: readable by id, never found by a search."""
    Patient.objects.create(
        tenant_id=tenant,
        fhir_id=fhir_id,
        username="",
        family="",
        given="",
        gender="",
        mrn="",
        phone="",
        email="",
        postal_code="",
        replaced_by=survivor,
        resource=combined_patient_resource(fhir_id=fhir_id, replaced_by=survivor),
    )


def _clients(rng: random.Random, tenant: str, app_url: str) -> list[Client]:
    callback, launch = f"{app_url}/launch/callback", f"{app_url}/launch"
    specs = [
        ("provider", "Sandbox Clinician App", True, PROVIDER_SCOPES, callback, launch),
        ("patient", "Sandbox Patient App", False, PATIENT_SCOPES, callback, ""),
        ("system", "Sandbox System Account", True, SYSTEM_SCOPES, "", ""),
    ]
    return [
        Client.objects.create(
            client_id=_uuid(rng),
            client_secret=secrets.token_urlsafe(24) if confidential else "",
            name=name,
            tenant_id=tenant,
            persona=persona,
            redirect_uri=redirect,
            launch_url=launch_url,
            scopes=scopes,
        )
        for persona, name, confidential, scopes, redirect, launch_url in specs
    ]


SIGNED_CLIENTS = [  # private_key_jwt only: their keys come from the app's JWKS URL
    ("system", "Sandbox System Account (signed assertions)", SYSTEM_SCOPES),
    ("provider", "Sandbox Clinician App (signed assertions)", PROVIDER_SCOPES),
]


def _signed_clients(tenant: str, app_url: str) -> None:
    """Clients that authenticate only with assertions signed by the app's keys. Their ids come
    from their names (uuid5), so adding them moved no other seeded id."""
    for persona, name, scopes in SIGNED_CLIENTS:
        Client.objects.create(
            client_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant}/{name}")),
            name=name,
            tenant_id=tenant,
            persona=persona,
            redirect_uri=f"{app_url}/launch/callback" if persona == "provider" else "",
            launch_url=f"{app_url}/launch" if persona == "provider" else "",
            scopes=scopes,
            jwks_url=f"{app_url}/.well-known/jwks.json",
        )


def signed_clients(tenant: str = links.TENANT) -> list[Client]:
    return list(Client.objects.filter(tenant_id=tenant, jwks_url__gt="").order_by("persona"))


def _wipe() -> None:
    for model in (
        RevokedToken,
        Appointment,
        Slot,
        Schedule,
        Location,
        Grant,
        PendingAuthorization,
        LaunchContext,
        Encounter,
        Patient,
        Practitioner,
        Client,
        SandboxSettings,
    ):
        model.objects.all().delete()


def seed(*, base_url: str, app_url: str, size: int, day_appointments: int = 7) -> list[Client]:
    """Wipes the sandbox and creates it again; returns the main tenant's clients.

    The first clinician gets `day_appointments` active appointments today (plus one cancelled).
    """
    rng = random.Random(SEED)  # noqa: S311 - reproducible data, not secrets
    base_url, app_url = base_url.rstrip("/"), app_url.rstrip("/")
    with transaction.atomic():
        _wipe()
        SandboxSettings.objects.create(base_url=base_url)
        keys.create_all(
            [
                (env, host)
                for env in (links.ENV1, links.ENV2)
                for host in (links.PROVIDER_HOST, links.PATIENT_HOST)
            ]
        )
        _practitioners(rng, links.TENANT, size, 4122622)
        _patients(rng, links.TENANT, size * 2, 12724066)
        _merged_patient(links.TENANT, str(12724066 + size * 2), survivor="12724066")
        clients = _clients(rng, links.TENANT, app_url)
        _signed_clients(links.TENANT, app_url)
        # Its own generator, so adding scheduling left every earlier id and client id unchanged.
        seed_schedules(
            tenant=links.TENANT,
            rng=random.Random(SEED + 1),  # noqa: S311
            day_appointments=max(0, day_appointments),
        )
        # A second tenant whose ids overlap the first: ids mean nothing without the tenant.
        _practitioners(rng, links.SECOND_TENANT, 2, 4122622)
        _patients(rng, links.SECOND_TENANT, 3, 12724066)
        _clients(rng, links.SECOND_TENANT, app_url)
        seed_visits_and_messages(random.Random(SEED + 2))  # noqa: S311 - visits, messages
        seed_accounts()  # issue 5: accounts for past visits, payment config, processor
    return clients


def tenants_document(*, base_url: str, clients: list[Client]) -> dict[str, Any]:
    base_url = base_url.rstrip("/")
    return {
        "tenants": [
            {
                "slug": "sandbox",
                "name": "Millennium Sandbox Hospital",
                "ehr_tenant_id": links.TENANT,
                "time_zone": CLINIC_TZ,
                "provider_fhir_base": links.fhir_base(base_url, links.PROVIDER_HOST, links.TENANT),
                "patient_fhir_base": links.fhir_base(base_url, links.PATIENT_HOST, links.TENANT),
                "clients": [_client_entry(c) for c in clients],
                "service_types": service_types(links.TENANT),
                "messages_api_base": f"{base_url}/sandbox/api/{links.TENANT}",
                "messages_token_endpoint": links.token_url(base_url, links.TENANT, "api"),
                "booking": {
                    "what_to_bring": "Your insurance card, a photo ID and a list of the "
                    "medicines you take.",
                    "how_to_cancel": "Cancel here up to 24 hours before, or call the clinic.",
                },
                **tenant_keys(base_url),  # "payments", "processor"
            }
        ]
    }


def _client_entry(client: Client) -> dict[str, str]:
    entry = {
        "persona": client.persona,
        "client_id": client.client_id,
        "client_secret": client.client_secret,
        "redirect_uri": client.redirect_uri,
        "scopes": client.scopes,
    }
    if client.signs_assertions:
        entry |= {"auth_method": "private_key_jwt", "client_secret": ""}
    return entry


def service_types(tenant: str) -> list[dict[str, str]]:
    """The bookable appointment types (code set 14249), as the app's tenant file lists them."""
    system = service_system(tenant)
    return [{"system": system, "code": code, "display": display} for code, display in SERVICE_TYPES]


def write_tenants_file(path: str, document: dict[str, Any]) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(document, indent=2) + "\n")
