from django.conf import settings
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("smartapp.launch.urls")),
    path("", include("smartapp.clinical.urls")),
    path("", include("smartapp.payments.urls")),
]
if settings.SANDBOX_ENABLED:
    urlpatterns.append(path("sandbox/", include("smartapp.sandbox.urls")))
