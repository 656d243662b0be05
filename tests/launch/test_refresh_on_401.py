"""A FHIR 401 mid-session (the token revoked, keys rotated): one refresh, single-flight, for all of
a page's parallel reads, then the read again; only when that fails is the user sent back."""

import threading
from collections import Counter

import pytest

from smartapp.launch.models import Launch
from tests.fakehttp import BASE, example, fake_in_every_thread, fake_launch

pytestmark = pytest.mark.django_db(transaction=True)
UNAUTHORIZED = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "login"}]}  # fmt: skip


class RevokedFirstToken:
    """The EHR stops accepting the launch's first token: every read with it answers 401.

    With `together`, the first token's refusals are held until that many reads carry it, so the
    page's parallel reads really are in flight at once (a thread scheduled late would otherwise
    start after the refresh, with the new token, and the test would measure the scheduler)."""

    def __init__(self, ehr, *, accept_new: bool = True, together: int = 1) -> None:
        self.ehr, self.accept_new = ehr, accept_new
        self.refused: list[str] = []
        self.lock = threading.Lock()
        self.together = threading.Barrier(together, timeout=10)

    def __call__(self, method, url, kwargs):
        auth = (kwargs.get("headers") or {}).get("Authorization", "")
        if url.startswith(BASE + "/") and ".well-known" not in url and auth:
            first_token = auth == "Bearer at-secret-1"
            if first_token or not self.accept_new:
                with self.lock:
                    self.refused.append(url)
                if first_token:
                    self.together.wait()  # a read that never comes breaks it, and the page fails
                return 401, UNAUTHORIZED
        return self.ehr(method, url, kwargs)


@pytest.fixture(autouse=True)
def _every_thread_uses_the_fake(fake_ehr, monkeypatch):
    """A page's parallel reads run in threads; the fake session is per thread."""
    fake_in_every_thread(monkeypatch, fake_ehr.session)


def _launched(client, fake_ehr) -> str:
    fake_ehr.fhir["Patient/12724067"] = (200, example("r4_patient_read.json"))
    fake_ehr.fhir["Appointment"] = (200, {"resourceType": "Bundle", "type": "searchset"})
    assert fake_launch(client, fake_ehr).status_code == 302
    return str(Launch.objects.get().public_id)


def test_a_401_is_refreshed_once_for_a_pages_parallel_reads_and_the_reads_retried(
    client, fake_ehr, fake_tenant
):
    launch = _launched(client, fake_ehr)
    revoked = RevokedFirstToken(fake_ehr, together=2)
    fake_ehr.session.handler = revoked

    page = client.get(f"/l/{launch}/chart/appointments/")

    assert page.status_code == 200, page.content[:300]
    assert "SMART, JOE" in page.content.decode()
    assert fake_ehr.refresh_count == 1  # both parallel reads were refused; one refresh served both
    assert len(revoked.refused) == 2
    assert Launch.objects.get().access_token == "refreshed-1"


def test_when_the_refresh_is_refused_the_clinician_is_asked_to_relaunch(
    client, fake_ehr, fake_tenant
):
    launch = _launched(client, fake_ehr)
    fake_ehr.session.handler = RevokedFirstToken(fake_ehr)
    fake_ehr.refresh_error = (400, {"error": "invalid_grant"})

    page = client.get(f"/l/{launch}/chart/")

    text = page.content.decode()
    assert page.status_code == 401 and "Relaunch the app from the EHR" in text
    assert "sign in again" not in text.lower()
    assert Launch.objects.get().ended_at is not None


def test_a_new_token_refused_too_ends_in_a_page_not_a_loop(client, fake_ehr, fake_tenant):
    launch = _launched(client, fake_ehr)
    revoked = RevokedFirstToken(fake_ehr, accept_new=False)
    fake_ehr.session.handler = revoked

    page = client.get(f"/l/{launch}/chart/")

    assert page.status_code == 401 and "no longer accepts" in page.content.decode()
    # One refresh for the page's parallel reads; each read refused once, then once more.
    assert fake_ehr.refresh_count == 1 and set(Counter(revoked.refused).values()) == {2}
