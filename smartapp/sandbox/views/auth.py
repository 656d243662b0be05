"""The authorization server's pages and endpoints (thin: rules live in sandbox.oauth)."""

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from smartapp.sandbox import error_bodies, keys, links
from smartapp.sandbox.error_bodies import OAuthError
from smartapp.sandbox.oauth import authorize as flow
from smartapp.sandbox.oauth import grants


def _error_page(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "sandbox/auth_error.html", {"message": message}, status=400)


@require_GET
def authorize(request: HttpRequest, tenant: str, persona: str) -> HttpResponse:
    params = {k: request.GET[k] for k in flow.PARAM_NAMES if k in request.GET}
    base = links.base_url(request)
    try:
        req = flow.check_client(tenant=tenant, persona=persona, params=params)
    except flow.PageError as exc:
        return _error_page(request, str(exc))
    try:
        flow.check_request(req, base)
    except OAuthError as err:
        return HttpResponseRedirect(flow.error_redirect(req, base, err))
    if "launch" in params:
        return HttpResponseRedirect(flow.ehr_launch_redirect(req))
    txn = flow.start_pending(req)
    login = reverse("sandbox:login", kwargs={"tenant": tenant, "persona": persona})
    return HttpResponseRedirect(f"{login}?txn={txn}")


@require_http_methods(["GET", "POST"])
def login(request: HttpRequest, tenant: str, persona: str) -> HttpResponse:
    txn = request.POST.get("txn") or request.GET.get("txn", "")
    try:
        pending, req = flow.load_pending(txn, persona)
    except flow.PageError as exc:
        return _error_page(request, str(exc))
    if request.method == "POST" and flow.select_user(pending, req, request.POST.get("user", "")):
        consent = reverse("sandbox:consent", kwargs={"tenant": tenant, "persona": persona})
        return HttpResponseRedirect(f"{consent}?txn={txn}")
    context = {
        "txn": txn,
        "persona": persona,
        "client": req.client,
        "people": flow.people(req.tenant, persona),
        "invalid": request.method == "POST",
    }
    return render(request, "sandbox/login.html", context)


@require_http_methods(["GET", "POST"])
def consent(request: HttpRequest, tenant: str, persona: str) -> HttpResponse:
    txn = request.POST.get("txn") or request.GET.get("txn", "")
    try:
        pending, req = flow.load_pending(txn, persona)
    except flow.PageError as exc:
        return _error_page(request, str(exc))
    if request.method == "POST":
        allow = request.POST.get("decision") == "allow"
        return HttpResponseRedirect(flow.decide(pending, req, links.base_url(request), allow))
    context = {
        "txn": txn,
        "persona": persona,
        "client": req.client,
        "scopes": req.params.get("scope", "").split(),
    }
    return render(request, "sandbox/consent.html", context)


def _no_store(response: HttpResponse) -> HttpResponse:
    for name, value in {**error_bodies.NO_STORE, **error_bodies.CORS}.items():
        response[name] = value
    return response


@csrf_exempt
@require_POST
def token(request: HttpRequest, tenant: str, host: str, env: str = links.ENV1) -> HttpResponse:
    base = links.base_url(request)
    form = request.POST.dict()
    try:
        body = grants.exchange(
            base=base,
            env=env,
            host=host,
            tenant=tenant,
            authorization=request.headers.get("Authorization", ""),
            form=form,
        )
    except OAuthError as err:
        return error_bodies.token_error(
            base, err, client_id=form.get("client_id", ""), tenant=tenant
        )
    return _no_store(JsonResponse(body))


@csrf_exempt
@require_POST
def revoke(request: HttpRequest, tenant: str) -> HttpResponse:
    form = request.POST.dict()
    try:
        base = links.base_url(request)
        hosts = (links.PROVIDER_HOST, links.PATIENT_HOST, "api")
        client = grants.authenticate(
            authorization=request.headers.get("Authorization", ""),
            form=form,
            tenant=tenant,
            audiences=[links.revoke_url(base, tenant)]
            + [links.token_url(base, tenant, host) for host in hosts],
        )
    except OAuthError as err:
        return error_bodies.token_error(links.base_url(request), err, client_id="", tenant=tenant)
    grants.revoke(client=client, token=form.get("token", ""))
    return _no_store(HttpResponse(status=200))


@require_GET
def jwks(request: HttpRequest, env: str = links.ENV1) -> JsonResponse:
    return JsonResponse(keys.public_jwks(env))


@require_GET
def openid_configuration(request: HttpRequest, tenant: str, idsp: str) -> JsonResponse:
    base = links.base_url(request)
    iss = links.oidc_issuer(base, tenant)
    return JsonResponse(
        {
            "response_types_supported": ["code"],
            "request_parameter_supported": False,
            "require_request_uri_registration": False,
            "request_uri_parameter_supported": True,
            "claims_parameter_supported": False,
            "jwks_uri": links.jwks_url(base),
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "issuer": iss,
            "authorization_endpoint": iss,
            "token_endpoint": iss,
        }
    )


@csrf_exempt
@require_POST
def tokeninfo(request: HttpRequest) -> JsonResponse:
    """Introspection, reduced to `active` and the refresh token's scope."""
    grant = grants.active_refresh_grant(request.POST.get("token", ""))
    if grant is None:
        return JsonResponse({"active": False})
    return JsonResponse(
        {
            "active": True,
            "scope": grant.scope,
            "client_id": grant.client.client_id,
            "sub": grant.username,
            "token_type": "refresh_token",
        }
    )


@require_GET
def my_authorizations(request: HttpRequest, tenant: str, persona: str) -> HttpResponse:
    return render(request, "sandbox/my_authorizations.html", {"persona": persona})


@require_GET
def smart_style(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {
            "color_background": "#edeae3",
            "color_error": "#9e2d2d",
            "color_highlight": "#69b5ce",
            "color_modal_backdrop": "",
            "color_success": "#498e49",
            "color_text": "#303030",
            "dim_border_radius": "6px",
            "dim_font_size": "13px",
            "dim_spacing_size": "20px",
            "font_family_body": "Georgia, Times, 'Times New Roman', serif",
            "font_family_heading": "'HelveticaNeue-Light', Helvetica, Arial, sans-serif;",
        }
    )
