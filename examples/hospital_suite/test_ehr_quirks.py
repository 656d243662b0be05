"""Millennium's bad days: tokens that expire early, rotated keys, throttling, a wrong tenant."""


def test_a_token_that_expires_mid_visit_is_refreshed(client, millennium, clinician):
    first_token = clinician.launch.access_token
    millennium.expire_tokens()

    chart = client.get(clinician.url("chart/"))

    assert chart.status_code == 200
    assert clinician.launch.access_token != first_token


def test_rotated_keys_cost_the_clinician_nothing(client, millennium, clinician):
    millennium.rotate_keys()

    assert client.get(clinician.url("chart/appointments/")).status_code == 200


def test_a_throttled_ehr_is_waited_for(client, millennium, clinician):
    millennium.throttle(retry_after=1, times=1)

    page = client.get(clinician.url("chart/appointments/"))

    assert page.status_code == 200 and millennium.counts().throttled == 1


def test_an_ehr_that_keeps_throttling_gets_a_page_that_says_so(client, millennium, clinician):
    millennium.throttle(retry_after=0)

    page = client.get(clinician.url("chart/appointments/"))

    assert page.status_code == 503 and "slow down" in page.text


def test_a_token_for_another_tenant_gets_a_clear_page(client, millennium, clinician):
    millennium.tenant_mismatch()

    page = client.get(clinician.url("chart/"))

    assert page.status_code == 401 and "no longer accepts" in page.text


def test_the_chart_reads_in_parallel_on_a_slow_network(client, millennium, clinician):
    millennium.latency(200)

    chart = client.get(clinician.url("chart/"))

    assert chart.status_code == 200
    # Its reads overlap (counted by the sandbox, not timed: a busy machine cannot fail this).
    assert millennium.counts().most_waiting_at_once >= 2
