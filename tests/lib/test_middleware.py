"""Headers every response carries; the CSP names the tenants' EHR origins, so it reads them."""

import pytest

pytestmark = pytest.mark.django_db


def test_every_page_forbids_inline_script_and_limits_framing(client):
    response = client.get("/admin/login/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'self'" in policy
    assert "X-Frame-Options" not in response
