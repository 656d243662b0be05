"""The audit trail is append-only."""

import pytest
from django.contrib.admin.sites import site
from django.test import RequestFactory

from smartapp.audit.models import AppendOnlyError, AuditEvent
from smartapp.audit.services import record

pytestmark = pytest.mark.django_db


def test_it_records_an_event():
    event = record(
        who="Practitioner/1",
        action="read",
        what="Patient/2",
        tenant="t",
        patient_id="2",
        status=200,
        correlation_id="c-1",
        launch_id="2b7c8f7e-7b0a-4a8e-9c9b-0d3f9d0e9a11",
    )

    assert AuditEvent.objects.get(pk=event.pk).correlation_id == "c-1"


def test_it_refuses_to_change_an_event():
    event = record(who="system", action="search", what="Patient?_id")
    event.what = "something else"

    with pytest.raises(AppendOnlyError):
        event.save()


def test_it_refuses_to_delete_an_event():
    event = record(who="system", action="search", what="Patient?_id")

    with pytest.raises(AppendOnlyError):
        event.delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_the_admin_lists_events_read_only(admin_user):
    request = RequestFactory().get("/admin/audit/auditevent/")
    request.user = admin_user
    model_admin = site._registry[AuditEvent]

    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    assert model_admin.has_view_permission(request)


def test_staff_can_browse_and_filter_the_audit_list(admin_client):
    record(who="Practitioner/1", action="read", what="Patient/2", tenant="sandbox")

    response = admin_client.get("/admin/audit/auditevent/?action=read")

    assert response.status_code == 200 and b"Patient/2" in response.content
