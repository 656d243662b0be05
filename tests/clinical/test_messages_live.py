"""Portal messages (Messages API) and a clinician's Communications, against the sandbox over HTTP.

Calls per page are counted by audit events (one per FHIR or Messages API call).
"""

import re
import secrets

import pytest
from django.test import Client

from smartapp.audit.models import AuditEvent
from smartapp.launch.models import Launch
from smartapp.sandbox.models import Appointment, Communication, PortalMessage, Practitioner
from smartapp.testing import launch_as_clinician, launch_as_patient
from tests.conftest import SANDBOX_TENANT_ID
from tests.journeys import app_page, hidden

pytestmark = pytest.mark.django_db(transaction=True)

MAX_CALLS = {
    "inbox": 1,
    "sent": 1,
    "message (unread)": 2,
    "compose": 3,
    "chart_messages": 3,
    "chart_message": 2,
    "staff_messages": 2,
    "staff_message": 2,
}


def _post(client: Client, url: str, data: dict | None = None):
    """Posts a form as the page would: with a fresh once-only key unless the test gives one."""
    return client.post(url, {"key": secrets.token_urlsafe(8), **(data or {})})


def _url(launch: Launch, page: str) -> str:
    return f"/l/{launch.public_id}/{page}"


def _portal(patient_id: str, **filters):
    return PortalMessage.objects.filter(
        tenant_id=SANDBOX_TENANT_ID, patient_fhir_id=patient_id, **filters
    ).order_by("message_id")


def _other_patients_message(patient_id: str) -> PortalMessage:
    return PortalMessage.objects.filter(tenant_id=SANDBOX_TENANT_ID, folder="INBOX").exclude(
        patient_fhir_id=patient_id
    )[0]


def _care_team(patient_id: str) -> set[str]:
    return set(
        Appointment.objects.filter(
            tenant_id=SANDBOX_TENANT_ID, patient_fhir_id=patient_id
        ).values_list("practitioner_fhir_id", flat=True)
    )


def _hostile(patient_id: str) -> PortalMessage:
    return _portal(patient_id, folder="INBOX", content__contains="<script>").first()


# Patient: inbox, open, hostile content ---------------------------------------------------------


def test_the_inbox_lists_the_patients_messages_with_unread_marks_in_one_call(client, patient):
    inbox = _portal(patient.patient_id, folder="INBOX")
    others = PortalMessage.objects.exclude(patient_fhir_id=patient.patient_id)

    page, calls = app_page(client, _url(patient, "messages/"))

    text = page.content.decode()
    assert page.status_code == 200 and inbox.exists()
    for message in inbox:
        assert f'id="message-{message.message_id}"' in text
        assert (f'id="unread-{message.message_id}"' in text) == (message.status == "UNREAD")
    assert not any(f'id="message-{m.message_id}"' in text for m in others[:50])
    assert calls <= MAX_CALLS["inbox"], calls
    assert "unread)" in text


def test_opening_an_unread_message_marks_it_opened(client, patient):
    unread = _portal(patient.patient_id, folder="INBOX", status="UNREAD").first()

    page, calls = app_page(client, _url(patient, f"messages/{unread.message_id}/"))

    unread.refresh_from_db()
    assert page.status_code == 200 and unread.status == "OPENED"
    assert calls <= MAX_CALLS["message (unread)"], calls
    inbox = client.get(_url(patient, "messages/")).content.decode()
    assert f'id="unread-{unread.message_id}"' not in inbox


def test_hostile_html_from_the_ehr_is_sanitized(client, patient):
    hostile = _hostile(patient.patient_id)

    text = client.get(_url(patient, f"messages/{hostile.message_id}/")).content.decode()

    body = text.split('id="message-body"', 1)[1].split("</article>", 1)[0]
    assert "15 minutes early" in body
    assert "<script" not in body and "onerror" not in body and "alert(" not in body
    linked = _portal(patient.patient_id, content__contains="javascript:").first()
    text = client.get(_url(patient, f"messages/{linked.message_id}/")).content.decode()
    body = text.split('id="message-body"', 1)[1].split("</article>", 1)[0]
    assert "javascript:" not in body and "<iframe" not in body and "onclick" not in body
    assert "style=" not in body
    assert 'href="https://example.org/billing" rel="noopener noreferrer"' in body


def test_every_messages_call_is_audited_for_the_patient_with_the_request_id(client, patient):
    client.get(_url(patient, "messages/"))

    event = AuditEvent.objects.get(what="Messages inboxItems")
    assert event.who == "system" and event.patient_id == patient.patient_id
    assert event.reason == f"on behalf of patient, launch {patient.public_id}"
    assert re.fullmatch(r"[0-9a-f]{32}", event.correlation_id) and event.status == 200


def test_sent_items_list_what_the_patient_sent(client, patient):
    sent = _portal(patient.patient_id, folder="SENT")

    page, calls = app_page(client, _url(patient, "messages/sent/"))

    text = page.content.decode()
    assert page.status_code == 200 and calls <= MAX_CALLS["sent"]
    assert all(f'id="message-{m.message_id}"' in text for m in sent)
    assert "Billing Office" in text


# Patient: compose, reply, delete ---------------------------------------------------------------


def test_compose_offers_only_the_clinicians_of_the_patients_appointments(client, patient):
    team = _care_team(patient.patient_id)
    outsiders = Practitioner.objects.filter(tenant_id=SANDBOX_TENANT_ID).exclude(fhir_id__in=team)

    page, calls = app_page(client, _url(patient, "messages/new/"))

    offered = set(re.findall(r'<option value="([^"]+)"', page.content.decode()))
    assert page.status_code == 200 and offered == team
    assert outsiders.exists() and not offered & {p.fhir_id for p in outsiders}
    assert calls <= MAX_CALLS["compose"], calls


def test_a_patient_sends_a_message_to_their_care_team_and_it_is_in_sent(client, patient):
    recipient = sorted(_care_team(patient.patient_id))[0]
    before = set(_portal(patient.patient_id, folder="SENT").values_list("message_id", flat=True))

    sent = _post(
        client,
        _url(patient, "messages/new/"),
        {
            "recipient": recipient,
            "subject": "Knee <b>pain</b>",
            "body": "It hurts & <i>swells</i>.\n\nSince Monday.",
        },
    )

    assert sent.status_code == 303 and sent["Location"].endswith("/messages/sent/")
    new = _portal(patient.patient_id, folder="SENT").exclude(message_id__in=before).get()
    assert new.recipients[0]["id"] == recipient and new.subject == "Knee <b>pain</b>"
    assert new.content == (
        '<div xmlns="http://www.w3.org/1999/xhtml"><p>It hurts &amp; &lt;i&gt;swells&lt;/i&gt;.</p>'
        "<p>Since Monday.</p></div>"
    )
    listed = client.get(sent["Location"]).content.decode()
    assert f'id="message-{new.message_id}"' in listed and "Knee &lt;b&gt;pain&lt;/b&gt;" in listed
    write = AuditEvent.objects.get(what="Messages sentItems create")
    assert write.status == 201 and write.patient_id == patient.patient_id
    assert write.reason == f"on behalf of patient, launch {patient.public_id}"


def test_a_recipient_outside_the_care_team_is_refused(client, patient):
    outsider = (
        Practitioner.objects.filter(tenant_id=SANDBOX_TENANT_ID)
        .exclude(fhir_id__in=_care_team(patient.patient_id))
        .first()
    )
    before = PortalMessage.objects.count()

    page = _post(
        client,
        _url(patient, "messages/new/"),
        {"recipient": outsider.fhir_id, "subject": "Hi", "body": "Hello"},
    )

    assert page.status_code == 400 and b"Choose someone from your care team" in page.content
    assert PortalMessage.objects.count() == before


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"body": ""}, "Please write your message."),
        ({"body": "   \n  "}, "Please write your message."),
        ({"body": "x" * 5001}, "5000 characters or fewer"),
        ({"body": "&" * 5000 + "<>" * 0}, None),
        ({"subject": ""}, "Please give your message a subject."),
        ({"subject": "s" * 256}, "255 characters or fewer"),
        ({"recipient": ""}, "Choose who should read your message."),
    ],
)
def test_bad_message_input_gets_a_clear_400(client, patient, fields, message):
    values = {
        "recipient": sorted(_care_team(patient.patient_id))[0],
        "subject": "Question",
        "body": "Hello",
        **fields,
    }
    before = PortalMessage.objects.count()

    page = _post(client, _url(patient, "messages/new/"), values)

    if message is None:  # 5000 ampersands escape to 25 kB of XHTML: still within 32 kB, sent
        assert page.status_code == 303 and PortalMessage.objects.count() == before + 1
        return
    assert page.status_code == 400 and message in page.content.decode()
    assert PortalMessage.objects.count() == before


def test_a_reply_goes_to_the_sender_and_names_the_previous_message(client, patient):
    original = _portal(patient.patient_id, folder="INBOX", notification_type="MESSAGE").first()
    reply_url = _url(patient, f"messages/{original.message_id}/reply/")
    assert client.get(reply_url).status_code == 200

    sent = _post(client, reply_url, {"body": "Thank you!"})

    assert sent.status_code == 303
    reply = _portal(patient.patient_id, folder="SENT", previous_message_id=original.message_id)
    reply = reply.get()
    assert reply.recipients[0]["id"] == original.sender["id"]
    assert reply.subject.lower().startswith("re:")


def test_an_empty_reply_gets_a_400(client, patient):
    original = _portal(patient.patient_id, folder="INBOX", notification_type="MESSAGE").first()

    page = _post(client, _url(patient, f"messages/{original.message_id}/reply/"), {"body": ""})

    assert page.status_code == 400 and b"Please write your message." in page.content


def test_a_patient_deletes_a_message(client, patient):
    message = _portal(patient.patient_id, folder="INBOX").first()

    done = _post(client, _url(patient, f"messages/{message.message_id}/delete/"))

    message.refresh_from_db()
    assert done.status_code == 303 and message.status == "DELETED"
    inbox = client.get(done["Location"]).content.decode()
    assert f'id="message-{message.message_id}"' not in inbox and "Message deleted." in inbox
    assert client.get(_url(patient, f"messages/{message.message_id}/")).status_code == 404


@pytest.mark.parametrize("action", ["", "reply/"])
def test_unknown_and_malformed_message_ids_are_not_found(client, patient, action):
    for bad in ("999999999", "no%20such", "a" * 65):
        assert client.get(_url(patient, f"messages/{bad}/{action}")).status_code == 404


def test_another_patients_message_is_not_found_and_unchanged(client, patient):
    other = _other_patients_message(patient.patient_id)
    status = other.status

    assert client.get(_url(patient, f"messages/{other.message_id}/")).status_code == 404
    assert client.get(_url(patient, f"messages/{other.message_id}/reply/")).status_code == 404
    reply = _post(client, _url(patient, f"messages/{other.message_id}/reply/"), {"body": "x"})
    delete = _post(client, _url(patient, f"messages/{other.message_id}/delete/"))

    other.refresh_from_db()
    assert reply.status_code == delete.status_code == 404 and other.status == status
    assert not PortalMessage.objects.filter(previous_message_id=other.message_id, folder="SENT")


def test_a_reminder_cannot_be_answered(client, patient):
    reminder = _portal(patient.patient_id, notification_type="REMINDER").first()

    page = _post(client, _url(patient, f"messages/{reminder.message_id}/reply/"), {"body": "ok"})

    assert page.status_code == 400 and b"cannot be answered" in page.content


# Clinician: the patient's portal messages, and their own Communications ---------------------------


def test_the_chart_shows_the_patients_portal_messages_without_opening_them(client, clinician):
    messages = _portal(clinician.patient_id)
    unread = messages.filter(status="UNREAD").first()

    page, calls = app_page(client, _url(clinician, "chart/messages/"))
    one, one_calls = app_page(client, _url(clinician, f"chart/messages/{unread.message_id}/"))

    text = page.content.decode()
    assert page.status_code == 200 and 'id="patient-banner"' in text
    visible = messages.exclude(notification_type="REMINDER")
    assert all(f'id="message-{m.message_id}"' in text for m in visible)
    assert calls <= MAX_CALLS["chart_messages"] and one_calls <= MAX_CALLS["chart_message"]
    unread.refresh_from_db()
    assert one.status_code == 200 and unread.status == "UNREAD"
    other = _other_patients_message(clinician.patient_id)
    assert client.get(_url(clinician, f"chart/messages/{other.message_id}/")).status_code == 404


def test_my_messages_lists_communications_to_the_clinician(client, clinician):
    mine = Communication.objects.filter(
        tenant_id=SANDBOX_TENANT_ID, recipients__contains=f" Practitioner/{clinician.user_id} "
    )

    page, calls = app_page(client, _url(clinician, "my-messages/"))

    text = page.content.decode()
    assert page.status_code == 200 and mine.exists()
    assert all(f'id="communication-{c.fhir_id}"' in text for c in mine)
    others = Communication.objects.exclude(
        recipients__contains=f" Practitioner/{clinician.user_id} "
    )
    assert not any(f'id="communication-{c.fhir_id}"' in text for c in others)
    assert calls <= MAX_CALLS["staff_messages"], calls
    assert "New" in text


def test_a_communication_body_is_read_from_binary_and_sanitized(client, clinician):
    mine = Communication.objects.filter(
        tenant_id=SANDBOX_TENANT_ID, recipients__contains=f" Practitioner/{clinician.user_id} "
    )
    hostile = next(c for c in mine if b"<script>" in bytes(c.content))

    page, calls = app_page(client, _url(clinician, f"my-messages/{hostile.fhir_id}/"))

    body = page.content.decode().split('id="message-body"', 1)[1].split("</article>", 1)[0]
    assert page.status_code == 200 and "Potassium <b>5.9</b>" in body
    assert "<script" not in body and "onerror" not in body and "alert(" not in body
    assert calls <= MAX_CALLS["staff_message"], calls
    assert AuditEvent.objects.filter(what=f"Binary/{hostile.fhir_id}").exists()


def test_another_clinicians_communication_is_not_found_and_its_body_not_read(client, clinician):
    other = Communication.objects.exclude(
        recipients__contains=f" Practitioner/{clinician.user_id} "
    ).first()

    assert client.get(_url(clinician, f"my-messages/{other.fhir_id}/")).status_code == 404
    assert not AuditEvent.objects.filter(what=f"Binary/{other.fhir_id}").exists()
    assert client.get(_url(clinician, "my-messages/nope.0.-4.x/")).status_code == 404


# Access rules ----------------------------------------------------------------------------------

PATIENT_PAGES = ["messages/", "messages/sent/", "messages/new/", "messages/1/", "messages/1/reply/"]
CLINICIAN_PAGES = ["chart/messages/", "chart/messages/1/", "my-messages/", "my-messages/1/"]


@pytest.mark.parametrize("page", PATIENT_PAGES + CLINICIAN_PAGES)
def test_message_pages_without_a_session_say_so_with_a_401(patient, page):
    assert Client().get(_url(patient, page)).status_code == 401


def test_deleting_without_a_session_says_so_with_a_401(patient):
    assert Client().post(_url(patient, "messages/1/delete/")).status_code == 401


@pytest.mark.parametrize(
    ("page", "method"),
    [
        ("messages/", "post"),
        ("messages/sent/", "post"),
        ("messages/new/", "put"),
        ("messages/1/", "post"),
        ("messages/1/reply/", "delete"),
        ("messages/1/delete/", "get"),
    ],
)
def test_message_pages_refuse_other_methods(client, patient, page, method):
    assert getattr(client, method)(_url(patient, page)).status_code == 405


@pytest.mark.parametrize(("page", "method"), [(p, "post") for p in CLINICIAN_PAGES])
def test_clinician_message_pages_refuse_post(client, clinician, page, method):
    assert getattr(client, method)(_url(clinician, page)).status_code == 405


@pytest.mark.parametrize("page", CLINICIAN_PAGES)
def test_a_patient_has_no_clinician_message_pages(client, patient, page):
    assert client.get(_url(patient, page)).status_code == 404


@pytest.mark.parametrize("page", PATIENT_PAGES)
def test_a_clinician_has_no_patient_message_pages(client, clinician, page):
    assert client.get(_url(clinician, page)).status_code == 404


def test_the_compose_form_carries_no_patient_id(client, patient):
    text = client.get(_url(patient, "messages/new/")).content.decode()

    assert patient.patient_id not in text
    assert hidden(text, "csrfmiddlewaretoken")


def test_calls_per_page_stay_within_their_bounds(client, tenant, figure):
    """Prints the measured calls per page (`pytest -s`); the bounds hold whatever the data."""
    doctor = Client()
    clinician = launch_as_clinician(doctor).launch
    patient = launch_as_patient(client).launch
    unread = _portal(patient.patient_id, status="UNREAD").first()
    mine = Communication.objects.filter(
        recipients__contains=f" Practitioner/{clinician.user_id} "
    ).first()
    measured = {
        "patient visits": app_page(client, _url(patient, "visits/"))[1],
        "inbox": app_page(client, _url(patient, "messages/"))[1],
        "sent": app_page(client, _url(patient, "messages/sent/"))[1],
        "message (unread)": app_page(client, _url(patient, f"messages/{unread.message_id}/"))[1],
        "compose": app_page(client, _url(patient, "messages/new/"))[1],
        "chart_visits": app_page(doctor, _url(clinician, "chart/visits/"))[1],
        "chart_messages": app_page(doctor, _url(clinician, "chart/messages/"))[1],
        "chart_message": app_page(doctor, _url(clinician, f"chart/messages/{unread.message_id}/"))[
            1
        ],
        "staff_messages": app_page(doctor, _url(clinician, "my-messages/"))[1],
        "staff_message": app_page(doctor, _url(clinician, f"my-messages/{mine.fhir_id}/"))[1],
    }
    before = AuditEvent.objects.count()
    _post(
        client,
        _url(patient, "messages/new/"),
        {"recipient": sorted(_care_team(patient.patient_id))[0], "subject": "s", "body": "b"},
    )
    measured["compose POST"] = AuditEvent.objects.count() - before

    figure(f"FHIR / Messages API calls per page: {measured}")
    assert measured["patient visits"] <= 3 and measured["chart_visits"] <= 4
    assert measured["compose POST"] <= 3
    assert all(measured[name] <= bound for name, bound in MAX_CALLS.items()), measured


def test_a_double_submitted_message_is_sent_once(client, patient):
    form = client.get(_url(patient, "messages/new/")).content.decode()
    values = {
        "key": hidden(form, "key"),
        "recipient": sorted(_care_team(patient.patient_id))[0],
        "subject": "Twice?",
        "body": "Pressed Send twice.",
    }
    before = _portal(patient.patient_id, folder="SENT").count()

    first = client.post(_url(patient, "messages/new/"), values)
    second = client.post(_url(patient, "messages/new/"), values)

    assert first.status_code == second.status_code == 303
    assert _portal(patient.patient_id, folder="SENT").count() == before + 1
    sent = client.get(second["Location"]).content.decode()
    assert "already sent" in sent
