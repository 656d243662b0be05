"""Card processor URLs, under `/sandbox/processor/` (see the sandbox README, "Card processor")."""

from django.urls import path

from smartapp.sandbox.processor import views

urlpatterns = [
    path("v1/checkout/sessions", views.sessions, name="processor_sessions"),
    path(
        "v1/checkout/sessions/<str:session_id>",
        views.session_detail,
        name="processor_session",
    ),
    path("v1/charges", views.charges, name="processor_charges"),
    path("v1/charges/<str:charge_id>", views.charge_detail, name="processor_charge"),
    path("v1/charges/<str:charge_id>/refund", views.refund, name="processor_refund"),
    path("checkout/<str:session_id>", views.checkout, name="processor_checkout"),
]
