"""Access tokens are refreshed before they expire, once, keeping the original refresh token."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from smartapp.launch.error_pages import SessionEnded
from smartapp.launch.models import Launch
from smartapp.launch.tokens import launch_access_token
from tests.fakehttp import BASE, FakeEhr, install, uninstall

pytestmark = pytest.mark.django_db


@pytest.fixture
def launch(fake_tenant):
    return Launch.objects.create(
        tenant=fake_tenant,
        persona="provider",
        fhir_base=BASE,
        access_token="old-at",
        refresh_token="rt-1",
        expires_at=timezone.now() + timedelta(seconds=30),
    )


def test_it_uses_the_token_while_it_is_fresh(fake_ehr, launch):
    Launch.objects.update(expires_at=timezone.now() + timedelta(minutes=5))
    launch.refresh_from_db()

    assert launch_access_token(launch=launch) == "old-at"
    assert fake_ehr.refresh_count == 0


def test_it_refreshes_within_the_margin_and_keeps_the_original_refresh_token(fake_ehr, launch):
    assert launch_access_token(launch=launch) == "refreshed-1"

    launch.refresh_from_db()
    assert launch.refresh_token == "rt-1" and launch.expires_at > timezone.now() + timedelta(
        minutes=5
    )
    token_call = [c for c in fake_ehr.session.calls if c[1].endswith("/token")][0][2]
    assert token_call["auth"].username == "provider-client"


def test_it_ends_the_session_when_the_refresh_is_refused(fake_ehr, launch):
    fake_ehr.refresh_error = (401, {"error": "invalid_grant"})

    with pytest.raises(SessionEnded):
        launch_access_token(launch=launch)
    launch.refresh_from_db()
    assert launch.ended_at is not None


def test_it_ends_the_session_when_an_expired_token_has_no_refresh_token(fake_ehr, launch):
    Launch.objects.update(refresh_token="", expires_at=timezone.now() - timedelta(seconds=1))
    launch.refresh_from_db()

    with pytest.raises(SessionEnded):
        launch_access_token(launch=launch)


def test_it_keeps_using_a_still_valid_token_when_another_request_is_refreshing(fake_ehr, launch):
    Launch.objects.update(refresh_claimed_until=timezone.now() + timedelta(seconds=20))
    launch.refresh_from_db()

    assert launch_access_token(launch=launch) == "old-at"
    assert fake_ehr.refresh_count == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_refresh_only_once(fake_tenant):
    launch = Launch.objects.create(
        tenant=fake_tenant,
        persona="provider",
        fhir_base=BASE,
        access_token="old-at",
        refresh_token="rt-1",
        expires_at=timezone.now() - timedelta(seconds=1),
    )
    ehr, results, barrier = FakeEhr(), [], threading.Barrier(4)

    def worker():
        install(ehr)
        try:
            barrier.wait()
            results.append(launch_access_token(launch=Launch.objects.get(pk=launch.pk)))
        finally:
            uninstall()
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]

    assert ehr.refresh_count == 1
    assert results == ["refreshed-1"] * 4
