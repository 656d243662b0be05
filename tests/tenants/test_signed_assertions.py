"""private_key_jwt: the app's keys (create, rotate, retire), its JWKS, and signed client assertions
that the sandbox verifies by fetching that JWKS, as Millennium does."""

import json
from datetime import timedelta

import pytest
import requests
from django.core.management import call_command
from django.utils import timezone
from joserfc import jwt
from joserfc.jwk import KeySet

from smartapp.sandbox import seed
from smartapp.tenants import client_keys
from smartapp.tenants.models import ClientKey, ClientRegistration, Tenant
from smartapp.tenants.oauth import TokenEndpointError, token_request
from smartapp.tenants.system_client import system_access_token

ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@pytest.mark.django_db
def test_the_first_key_signs_and_a_second_waits_published(client):
    first = client_keys.key_create()
    second = client_keys.key_create(algorithm="RS384")

    assert (first.state, second.state) == (ClientKey.State.ACTIVE, ClientKey.State.NEXT)
    published = client.get("/.well-known/jwks.json")
    kids = [key["kid"] for key in published.json()["keys"]]
    assert kids == [first.kid, second.kid]
    assert all("d" not in key and "p" not in key for key in published.json()["keys"])
    assert published["Cache-Control"] == "public, max-age=300"
    private = ClientKey.objects.values_list("private_jwk", flat=True).get(pk=first.pk)
    assert json.loads(private)["d"]  # readable through the model, encrypted in the table
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT private_jwk FROM tenants_clientkey WHERE id = %s", [first.pk])
        assert '"d"' not in cursor.fetchone()[0]


@pytest.mark.django_db
def test_rotation_publishes_before_it_signs_and_keeps_the_old_key_until_its_assertions_expire(
    client,
):
    old = client_keys.key_create()
    waiting, said = client_keys.key_rotate()  # publishes a next key
    assert waiting.state == ClientKey.State.NEXT and "run rotate again" in said
    same, said = client_keys.key_rotate()  # too early: it has not been published an hour
    assert same.pk == waiting.pk and same.state == ClientKey.State.NEXT and "may sign from" in said

    promoted, _ = client_keys.key_rotate(publish_lead=timedelta(0))

    old.refresh_from_db()
    assert promoted.state == ClientKey.State.ACTIVE and old.state == ClientKey.State.RETIRING
    assert client_keys.client_assertion(client_id="c", audience="https://t/token")  # new signer
    published = {key["kid"] for key in client.get("/.well-known/jwks.json").json()["keys"]}
    assert published == {old.kid, promoted.kid}
    assert client_keys.keys_retire() == []  # its last assertion may still be in flight
    ClientKey.objects.filter(pk=old.pk).update(published_until=timezone.now())
    assert [key.kid for key in client_keys.keys_retire()] == [old.kid]
    published = {key["kid"] for key in client.get("/.well-known/jwks.json").json()["keys"]}
    assert published == {promoted.kid}
    with pytest.raises(client_keys.KeyCommandRefused):
        client_keys.keys_retire(kid=promoted.kid)


@pytest.mark.django_db
def test_the_smart_keys_command_creates_lists_and_rotates(capsys):
    call_command("smart_keys", "create")
    call_command("smart_keys", "rotate")
    call_command("smart_keys", "list")

    out = capsys.readouterr().out
    assert "signing" in out and "published, not signing yet" in out and "run rotate again" in out


@pytest.mark.django_db
def test_an_assertion_has_the_claims_millennium_checks():
    key = client_keys.key_create()

    signed = client_keys.client_assertion(client_id="sys-1", audience="https://as/token")

    keys = KeySet.import_key_set({"keys": [key.public_jwk]})
    token = jwt.decode(signed.client_assertion, keys, algorithms=["ES384"])
    claims = token.claims
    assert signed.client_assertion_type == ASSERTION and token.header["kid"] == key.kid
    assert claims["iss"] == claims["sub"] == "sys-1" and claims["aud"] == "https://as/token"
    assert 0 < claims["exp"] - claims["iat"] <= 300 and len(claims["jti"]) >= 32
    again = client_keys.client_assertion(client_id="sys-1", audience="https://as/token")
    assert (
        jwt.decode(again.client_assertion, keys, algorithms=["ES384"]).claims["jti"]
        != claims["jti"]
    )


def _signed_tenant(tenants_file, folder) -> Tenant:
    """The sandbox tenant with its system and provider clients registered for private_key_jwt.

    Written to a copy: the session's tenants file stays as every other test expects it.
    """
    document = json.loads(tenants_file.read_text())
    signed = {c.persona: c for c in seed.signed_clients()}
    entry = document["tenants"][0]
    for client_entry in entry["clients"]:
        if client_entry["persona"] in signed:
            chosen = signed[client_entry["persona"]]
            client_entry |= {
                "client_id": chosen.client_id,
                "client_secret": "",
                "auth_method": "private_key_jwt",
            }
    signed_file = folder / "signed-tenants.json"
    signed_file.write_text(json.dumps(document))
    call_command("register_tenants", str(signed_file))
    return Tenant.objects.get(slug=entry["slug"])


@pytest.fixture
def signed_tenant(sandbox_tenants_file, tmp_path):
    return _signed_tenant(sandbox_tenants_file, tmp_path)


@pytest.mark.django_db(transaction=True)
def test_a_signed_system_client_gets_its_token_the_sandbox_having_fetched_our_jwks(signed_tenant):
    registration = ClientRegistration.objects.get(tenant=signed_tenant, persona="system")
    assert registration.authentication == "private_key_jwt" and registration.client_secret == ""
    assert ClientKey.objects.filter(state=ClientKey.State.ACTIVE).exists()  # made at registration

    token = system_access_token(tenant=signed_tenant)

    assert (
        token
        and requests.get(
            f"{signed_tenant.provider_fhir_base}/Patient/12724066",
            headers={"Authorization": f"Bearer {token}", "Accept": "application/fhir+json"},
            timeout=10,
        ).status_code
        == 200
    )


def _endpoint(tenant: Tenant) -> str:
    from smartapp.tenants.discovery import smart_configuration

    return smart_configuration(fhir_base=tenant.provider_fhir_base).token_endpoint


@pytest.mark.django_db(transaction=True)
def test_the_sandbox_refuses_a_replayed_a_misaddressed_and_a_missing_assertion(signed_tenant):
    registration = ClientRegistration.objects.get(tenant=signed_tenant, persona="system")
    endpoint = _endpoint(signed_tenant)
    form = {"grant_type": "client_credentials", "scope": "system/Patient.read"}
    signed = client_keys.client_assertion(client_id=registration.client_id, audience=endpoint)
    body = {**form, **signed.form()}

    first = requests.post(endpoint, data=body, timeout=10)
    replayed = requests.post(endpoint, data=body, timeout=10)
    elsewhere = client_keys.client_assertion(
        client_id=registration.client_id, audience="https://other.example/token"
    )
    misaddressed = requests.post(endpoint, data={**form, **elsewhere.form()}, timeout=10)
    with_a_secret = requests.post(
        endpoint, data=form, auth=(registration.client_id, "x"), timeout=10
    )

    assert first.status_code == 200 and first.json()["access_token"]
    for refused, reason in (
        (replayed, "replayed"),
        (misaddressed, "invalid-audience"),
        (with_a_secret, "missing"),
    ):
        assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
        assert f"client-assertion%3Ajwt-bearer%3A{reason}" in refused.json()["error_uri"] or (
            f"client-assertion:jwt-bearer:{reason}" in refused.json()["error_uri"]
        ), (reason, refused.json())


@pytest.mark.django_db(transaction=True)
def test_a_key_that_is_not_published_is_refused_as_a_bad_signature(signed_tenant):
    registration = ClientRegistration.objects.get(tenant=signed_tenant, persona="system")
    ClientKey.objects.update(state=ClientKey.State.RETIRED)  # nothing published any more
    ClientKey.objects.filter(pk=ClientKey.objects.first().pk).update(state=ClientKey.State.ACTIVE)
    ClientKey.objects.update(public_jwk={"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"})

    with pytest.raises(TokenEndpointError) as refused:
        token_request(
            token_endpoint=_endpoint(signed_tenant),
            registration=registration,
            form={"grant_type": "client_credentials", "scope": "system/Patient.read"},
        )

    assert refused.value.error == "invalid_client"


def _assertion_lasting(registration, endpoint: str, *, issued: int, lasts: int) -> dict:
    from authlib.oauth2.rfc7523 import private_key_jwt_sign
    from joserfc.jwk import ECKey

    row = ClientKey.objects.get(state=ClientKey.State.ACTIVE)
    signed = private_key_jwt_sign(
        ECKey.import_key(json.loads(row.private_jwk)),
        client_id=registration.client_id,
        token_endpoint=endpoint,
        alg="ES384",
        header={"kid": row.kid},
        issued_at=issued,
        expires_at=issued + lasts,
    )
    return {"client_assertion_type": ASSERTION, "client_assertion": signed}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("issued_ago", "lasts", "reason"), [(600, 300, "expired"), (0, 3600, "lifetime-too-long")]
)
def test_the_sandbox_refuses_an_expired_or_too_long_lived_assertion(
    signed_tenant, issued_ago, lasts, reason
):
    import time

    registration = ClientRegistration.objects.get(tenant=signed_tenant, persona="system")
    endpoint = _endpoint(signed_tenant)
    body = {
        "grant_type": "client_credentials",
        "scope": "system/Patient.read",
        **_assertion_lasting(
            registration, endpoint, issued=int(time.time()) - issued_ago, lasts=lasts
        ),
    }

    refused = requests.post(endpoint, data=body, timeout=10)

    assert refused.status_code == 401 and reason in requests.utils.unquote(
        refused.json()["error_uri"]
    )


@pytest.mark.django_db(transaction=True)
def test_a_page_whose_system_client_is_told_to_sign_says_so_instead_of_a_500(
    client, sandbox_tenants_file, tmp_path, millennium
):
    from smartapp.testing import launch_as_patient

    tenant = _signed_tenant(sandbox_tenants_file, tmp_path)
    ClientRegistration.objects.filter(tenant=tenant, persona="system").update(
        auth_method="client_secret_basic", client_secret="a-secret-it-does-not-want"
    )
    encounter = millennium.visits.registered()[0]
    launch = launch_as_patient(client, patient=encounter.patient, tenant=tenant.slug).url()
    launch = launch.rstrip("/")

    page = client.get(f"{launch}/visits/{encounter.fhir_id}/pay/")

    text = page.content.decode()
    assert page.status_code == 502 and "signed assertion (private_key_jwt)" in text
    assert "integration team" in text


@pytest.mark.django_db(transaction=True)
def test_a_private_key_jwt_only_system_client_books_and_posts_a_payment(
    client, sandbox_tenants_file, tmp_path, millennium
):
    from smartapp.sandbox.models import Appointment
    from smartapp.testing import assert_posted_once, launch_as_patient, wait_for_state
    from tests.journeys import hidden, week_of_slots
    from tests.payments.conftest import desk_row

    tenant = _signed_tenant(sandbox_tenants_file, tmp_path)
    launch = launch_as_patient(client, tenant=tenant.slug).url().rstrip("/")
    chosen = week_of_slots(client, launch, tenant)[0]
    confirm = client.get(f"{launch}/book/confirm/", {"slot": chosen})
    booked = client.post(
        f"{launch}/book/confirm/",
        {"key": hidden(confirm.content.decode(), "key"), "reason": "Cough"},
    )
    payment = desk_row(tenant, millennium.visits.registered()[0])
    wait_for_state(payment, "posted", run_inline=True)

    assert (
        booked.status_code == 303
        and Appointment.objects.filter(slot__fhir_id=chosen, status="booked").exists()
    )
    assert_posted_once(payment)
