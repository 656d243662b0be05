from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from smartapp.tenants import views as tenant_views

urlpatterns = [
    path("admin/", admin.site.urls),
    path(".well-known/jwks.json", tenant_views.jwks, name="jwks"),
    path("", include("smartapp.monitoring.urls")),  # /healthz, /readyz, /metrics
    path("i18n/", include("django.conf.urls.i18n")),  # set_language: the switch on patient pages
    path("", include("smartapp.launch.urls")),
    path("", include("smartapp.clinical.urls")),
    path("", include("smartapp.payments.urls")),
]
if settings.SANDBOX_ENABLED:
    urlpatterns.append(path("sandbox/", include("smartapp.sandbox.urls")))
