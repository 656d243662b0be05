"""Each cause of a 500 that hostile input once found, with its fix: bad ports and brackets in
`iss`, dates at the calendar's ends, non-UTF-8 form bodies; and the headers every response gets."""

import pytest
from django.test import Client

from smartapp.launch.models import PendingAuthorization
from tests.fakehttp import BASE, authorize_params, fake_launch

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "iss",
    [
        "http://127.0.0.1:abc/x",
        "http://127.0.0.1:99999/x",
        "http://127.0.0.1:-1/x",
        "http://127.0.0.1:+8510/x",
        "http://[::1/x",
        "http://[zz]/",
        BASE.replace("fhir.example.org", "fhir.example.org:abc"),
    ],
)
def test_an_iss_that_is_not_a_url_gets_a_400_and_is_never_contacted(
    client, fake_ehr, fake_tenant, iss
):
    response = client.get("/launch", {"iss": iss, "launch": "x"})

    assert response.status_code == 400
    assert b"This launch link is incomplete" in response.content or (
        b"This EHR is not registered" in response.content
    )
    assert fake_ehr.session.calls == []


@pytest.mark.parametrize(
    "iss",
    [
        f"{BASE}?aud=http://evil.example",
        f"\t{BASE}",
        BASE.replace("https://", "HTTPS://"),
        f"{BASE}#",
        f"{BASE}/",
    ],
)
def test_the_aud_sent_is_the_registered_base_never_the_iss_as_received(
    client, fake_ehr, fake_tenant, iss
):
    response = client.get("/launch", {"iss": iss, "launch": "x"})

    assert response.status_code == 302
    assert authorize_params(response["Location"])["aud"] == BASE
    assert PendingAuthorization.objects.get().iss == BASE


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "0999-12-31", "2200-01-01"])
def test_my_day_refuses_dates_far_from_today_with_the_window_in_words(
    client, fake_ehr, fake_tenant, day
):
    launch_response = fake_launch(client, fake_ehr)
    page = client.get(launch_response["Location"].replace("/chart/", "/my-day/"), {"date": day})

    assert page.status_code == 400 and b"Choose a date between" in page.content
    assert not any("Appointment" in url for _, url, _ in fake_ehr.session.calls)


@pytest.mark.parametrize(
    ("start", "end"),
    [("9999-12-30", "9999-12-31"), ("0999-12-30", "0999-12-31"), ("2026-12-01", "9999-12-31")],
)
def test_the_booking_search_refuses_dates_at_the_calendars_ends(
    client, fake_ehr, fake_tenant, start, end
):
    fake_tenant.service_types.create(system="s", code="1", display="Office Visit")
    book = fake_launch(client, fake_ehr)["Location"].replace("/chart/", "/book/")

    page = client.get(book, {"service_type": "1", "start": start, "end": end})

    assert page.status_code == 400 and b"Choose a date between" in page.content


@pytest.mark.parametrize("charset", ["latin-1", "utf-16", "nonsense", '"utf-32"', "cp1252"])
def test_a_form_posted_in_another_charset_gets_a_400_not_a_500(fake_tenant, charset):
    client = Client(raise_request_exception=False)
    client.get("/")  # the start page sets the csrftoken cookie, as a browser would have it

    response = client.generic(  # generic(): the body goes out as these bytes
        "POST",
        "/signin",
        "tenant=fake&persona=patient".encode("utf-16" if charset == "utf-16" else "latin-1"),
        content_type=f"application/x-www-form-urlencoded; charset={charset}",
    )

    assert response.status_code == 400 and b"Send it as UTF-8" in response.content
    assert "Content-Security-Policy" in response


@pytest.mark.parametrize("charset", ["utf-8", "UTF-8", '"utf-8"'])
def test_utf8_is_read_in_either_case(fake_ehr, fake_tenant, charset):
    client = Client(enforce_csrf_checks=False)

    response = client.generic(
        "POST",
        "/signin",
        b"tenant=fake&persona=patient",
        content_type=f"application/x-www-form-urlencoded; charset={charset}",
    )

    assert response.status_code == 302


def _csp(response) -> str:
    return response.get("Content-Security-Policy", "")


def test_every_kind_of_response_carries_the_csp_and_no_store(client, fake_ehr, fake_tenant):
    launched = fake_launch(client, fake_ehr)  # a redirect
    responses = {
        "redirect": launched,
        "page": client.get(launched["Location"]),
        "400 launch": client.get("/launch"),
        "404": client.get("/no/such/page/"),
        "405": client.put("/signin"),
        "bad host": Client(HTTP_HOST="evil.example").get("/"),
    }
    for name, response in responses.items():
        assert "script-src 'self'" in _csp(response), name
        assert "form-action 'self'" in _csp(response), name
        assert response["Cache-Control"] == "no-store", name
    assert responses["bad host"].status_code == 400


def test_static_files_may_be_cached(client, settings):
    settings.STATIC_URL = "/static/"
    response = client.get("/static/css/app.css")

    assert response.get("Cache-Control", "") != "no-store"


def test_framing_is_governed_by_frame_ancestors_alone(client, settings, fake_tenant):
    response = client.get("/")

    assert not hasattr(settings, "X_FRAME_OPTIONS") or "XFrameOptionsMiddleware" not in "".join(
        settings.MIDDLEWARE
    )
    assert "X-Frame-Options" not in response and "frame-ancestors 'self'" in _csp(response)
