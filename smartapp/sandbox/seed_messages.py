"""Seeded messages: each patient's portal history (Messages API) and each clinician's
Communication inbox. Some bodies carry hostile HTML on purpose (`<script>`, `onerror=`,
`javascript:` links, `<iframe>`) so the app's sanitizer has work to do.

Portal message ids are fixed: patient number i (0 = 12724066) owns `710000000 + 7*i + k` for k =
0 sent "Refill request", 1 inbox reply to it, 2 inbox lab results, 3 inbox UNREAD hostile
`<script>`/`onerror`, 4 inbox UNREAD HIGH with a `javascript:` link, 5 inbox REMINDER 120 days old
(outside the default 90-day window), 6 sent to the billing group inbox.
Communications: clinician j gets `{489580643 + 4*j + k}.0.-4.prsnl`, k = 0..3.
"""

import random
from datetime import UTC, datetime, timedelta

from smartapp.sandbox import links
from smartapp.sandbox.fhir.communication import create_row
from smartapp.sandbox.models import (
    Appointment,
    Communication,
    Encounter,
    Patient,
    PortalMessage,
    Practitioner,
)
from smartapp.sandbox.scheduling import instant
from smartapp.sandbox.seed_encounters import seed_encounters

MESSAGE_BASE = 710_000_000
PER_PATIENT = 7
COMMUNICATION_BASE = 489_580_643
BILLING_GROUP = {"id": "5000", "type": "GROUPINBOX", "name": "Billing Office"}
HOSTILE_SCRIPT = (
    "<p>Please arrive <b>15 minutes early</b> and bring your insurance card.</p>"
    "<script>alert('inbox')</script>"
    '<img src="x" onerror="alert(1)">'
    "<p>Reply here if you need to reschedule.</p>"
)
HOSTILE_LINK = (
    '<p style="color:red" onclick="steal()">Your statement is ready.</p>'
    '<p><a href="javascript:alert(document.cookie)">View statement</a> or '
    '<a href="https://example.org/billing">pay online</a>.</p>'
    '<iframe src="https://evil.example/frame"></iframe>'
)


def _inbox(patient: Patient, person: Practitioner, **fields) -> PortalMessage:
    return PortalMessage(
        folder="INBOX",
        sender={"id": person.fhir_id, "type": "PERSONNEL", "name": person.display_name},
        recipients=[{"id": patient.fhir_id, "type": "PERSON", "name": patient.display_name}],
        **fields,
    )


def _sent(patient: Patient, recipient: dict, **fields) -> PortalMessage:
    return PortalMessage(
        folder="SENT",
        status="OPENED",
        sender={"id": patient.fhir_id, "type": "PERSON", "name": patient.display_name},
        recipients=[recipient],
        **fields,
    )


def _portal(tenant: str, rng: random.Random, now: datetime) -> None:
    people = {p.fhir_id: p for p in Practitioner.objects.filter(tenant_id=tenant)}
    first = min(people)
    patients = Patient.objects.filter(tenant_id=tenant).current().order_by("fhir_id")
    rows = []
    for i, patient in enumerate(patients):
        seen = Appointment.objects.filter(tenant_id=tenant, patient_fhir_id=patient.fhir_id)
        team = sorted(set(seen.values_list("practitioner_fhir_id", flat=True))) or [first]
        a, b = people[rng.choice(team)], people[rng.choice(team)]
        ids = [str(MESSAGE_BASE + PER_PATIENT * i + k) for k in range(PER_PATIENT)]
        day = timedelta(days=1)
        at = [
            now - day * d - timedelta(minutes=rng.randrange(0, 600))
            for d in (12, 11, 20, 2, 1, 120, 3)
        ]
        at = [moment.replace(microsecond=0) for moment in at]
        person_a = {"id": a.fhir_id, "type": "PERSONNEL", "name": a.display_name}
        common = {"tenant_id": tenant, "patient_fhir_id": patient.fhir_id}
        rows += [
            _sent(patient, person_a, message_id=ids[0], subject="Refill request", created_at=at[0],
                  content="<p>Could I get a refill of my <b>lisinopril</b>? I have 3 days left.</p>",
                  **common),
            _inbox(patient, a, message_id=ids[1], subject="RE: Refill request", created_at=at[1],
                   status="OPENED", previous_message_id=ids[0],
                   content="<p>Your refill was sent to your pharmacy.</p><p>— Dr. "
                   f"{a.family}</p>", **common),
            _inbox(patient, b, message_id=ids[2], subject="Your lab results are ready",
                   created_at=at[2], status="OPENED",
                   content="<p>Your results are within normal range:</p><ul><li>A1C 5.4%</li>"
                   "<li>LDL 96 mg/dL</li></ul><p>See <a href=\"https://example.org/labs\">"
                   "the lab guide</a>.</p>", **common),
            _inbox(patient, a, message_id=ids[3], subject="Before your upcoming visit",
                   created_at=at[3], status="UNREAD", content=HOSTILE_SCRIPT, **common),
            _inbox(patient, b, message_id=ids[4], subject="Billing: your statement",
                   created_at=at[4], status="UNREAD", priority="HIGH", content=HOSTILE_LINK,
                   **common),
            _inbox(patient, a, message_id=ids[5], subject="Flu shot reminder", created_at=at[5],
                   status="OPENED", notification_type="REMINDER",
                   content="<p>It is time for your annual flu shot.</p>", **common),
            _sent(patient, BILLING_GROUP, message_id=ids[6], subject="Question about my bill",
                  created_at=at[6], content="<p>Why was I charged twice for my visit?</p>",
                  **common),
        ]  # fmt: skip
    PortalMessage.objects.bulk_create(rows, batch_size=500)


NOTES = [
    ("notification", "urgent", "Lab result needs review", True, "in-progress",
     "<html><body><p>Potassium <b>5.9</b> — please review.</p>"
     "<script>alert('comm')</script><img src=x onerror=alert(2)></body></html>"),
    ("reminder", "routine", "Sign visit note", True, "in-progress",
     "<html><body><p>Your note for this visit is unsigned. "
     "<a href=\"javascript:alert(1)\">Open note</a></p></body></html>"),
    ("notification", "routine", "Clinic meeting moved", False, "completed",
     "<html><body><p>Thursday's clinic meeting moves to <i>room 204</i>.</p></body></html>"),
    ("notification", "routine", "Billing question from patient", True, "completed",
     "<html><body><p>The patient asked about an estimate; please call them.</p></body></html>"),
]  # fmt: skip


def _communications(tenant: str, rng: random.Random, now: datetime) -> None:
    people = list(Practitioner.objects.filter(tenant_id=tenant).order_by("fhir_id"))
    patients = list(Patient.objects.filter(tenant_id=tenant).current().order_by("fhir_id")[:12])
    visits: dict[int, str] = {}
    for row in Encounter.objects.filter(tenant_id=tenant, status="finished").order_by("fhir_id"):
        visits.setdefault(row.patient_id, row.fhir_id)
    for j, person in enumerate(people):
        for k, (category, priority, topic, about, email, html) in enumerate(NOTES):
            sender = people[(j + k + 1) % len(people)]
            patient = rng.choice(patients) if about else None
            received = now - timedelta(days=(1, 3, 6, 10)[k], minutes=rng.randrange(0, 300))
            recipients = [
                {"reference": f"Practitioner/{person.fhir_id}", "display": person.display_name}
            ]
            if k == 3:
                recipients.append({"reference": "Group/1568", "display": "Front Desk Pool"})
            create_row(
                tenant,
                {
                    "category": category,
                    "recipients": " " + " ".join(r["reference"] for r in recipients) + " ",
                    "patient_fhir_id": patient.fhir_id if patient else "",
                    "content_type": "text/html",
                    "content": html.encode(),
                    "email_status": email,
                    "received": received.replace(microsecond=0),
                },
                {
                    "priority": priority,
                    "topic": topic,
                    "patient": patient.display_name if patient else "",
                    "encounter": visits.get(patient.pk, "") if patient else "",
                    "recipients": recipients,
                    "sender": {
                        "reference": f"Practitioner/{sender.fhir_id}",
                        "display": sender.display_name,
                    },
                    "updated": instant(received),
                },
                fhir_id=f"{COMMUNICATION_BASE + 4 * j + k}.0.-4.prsnl",
            )  # fmt: skip


def seed_messages(*, tenant: str, rng: random.Random, now: datetime) -> None:
    _portal(tenant, rng, now)
    _communications(tenant, rng, now)


def seed_visits_and_messages(rng: random.Random) -> None:
    """Issue 4's data for both tenants (after people and scheduling exist); wipes its own tables."""
    now = datetime.now(UTC)
    Communication.objects.all().delete()
    PortalMessage.objects.all().delete()
    for tenant in (links.TENANT, links.SECOND_TENANT):
        seed_encounters(tenant=tenant, rng=rng, now=now)
    seed_messages(tenant=links.TENANT, rng=rng, now=now)
