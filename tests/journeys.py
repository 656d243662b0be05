"""Steps of journeys over real HTTP against the sandbox on the live server, shared by test
modules. Launches themselves are the test kit's (`smartapp.testing.launch_as_clinician`,
`launch_as_patient`).
"""

import html
import re


def app_page(client, url: str):
    """GETs an app page; returns (response, FHIR calls it made, counted by their audit events)."""
    from smartapp.audit.models import AuditEvent

    before = AuditEvent.objects.count()
    response = client.get(url)
    return response, AuditEvent.objects.count() - before


def slot_ids(page_html: str) -> list[str]:
    """The free slots a booking page offers, in page order."""
    return re.findall(r'data-slot="([^"]+)"', page_html)


def week_of_slots(client, launch_url: str, tenant) -> list[str]:
    """The free slots of the tenant's first service type this week, from the booking page."""
    from datetime import timedelta

    from django.utils import timezone

    today = timezone.localdate()
    search = client.get(
        f"{launch_url}/book/",
        {"service_type": tenant.service_types.first().code, "start": today.isoformat(),
         "end": (today + timedelta(days=6)).isoformat()},
    )  # fmt: skip
    return slot_ids(search.content.decode())


def hidden(page_html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page_html)
    assert match, f"no hidden {name} in the page"
    return html.unescape(match[1])
