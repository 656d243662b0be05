from django.urls import path

from smartapp.payments import ops_views, views

app_name = "payments"
urlpatterns = [
    path("l/<uuid:public_id>/visits/<str:encounter_id>/pay/", views.pay, name="pay"),
    path("l/<uuid:public_id>/payments/", views.payment_list, name="list"),
    path("l/<uuid:public_id>/payments/desk/", views.desk_payment, name="desk"),
    path("l/<uuid:public_id>/payments/<uuid:payment_id>/", views.status, name="status"),
    path("l/<uuid:public_id>/payments/<uuid:payment_id>/card/", views.card, name="card"),
    path("l/<uuid:public_id>/payments/<uuid:payment_id>/receipt/", views.receipt, name="receipt"),
    path(
        "l/<uuid:public_id>/payments/<uuid:payment_id>/status/",
        views.status_part,
        name="status_part",
    ),
    path(
        "l/<uuid:public_id>/payments/<uuid:payment_id>/checkout/",
        views.checkout,
        name="checkout",
    ),
    path(
        "l/<uuid:public_id>/payments/<uuid:payment_id>/return/",
        views.processor_return,
        name="return",
    ),
    path(
        "l/<uuid:public_id>/payments/<uuid:payment_id>/cancelled/",
        views.processor_cancelled,
        name="cancelled",
    ),
    path(
        "payments/stripe/<slug:tenant_slug>/webhook/", views.stripe_webhook, name="stripe_webhook"
    ),
    path("staff/payments/", ops_views.ops_list, name="ops"),
    path(
        "staff/payments/reconciliation/",
        ops_views.ops_reconciliation,
        name="ops_reconciliation",
    ),
    path("staff/payments/<uuid:payment_id>/", ops_views.ops_detail, name="ops_detail"),
    path("staff/payments/<uuid:payment_id>/retry/", ops_views.ops_retry, name="ops_retry"),
    path("staff/payments/<uuid:payment_id>/resolve/", ops_views.ops_resolve, name="ops_resolve"),
    path("staff/payments/<uuid:payment_id>/refund/", ops_views.ops_refund, name="ops_refund"),
    path(
        "staff/payments/<uuid:payment_id>/refund-posted/",
        ops_views.ops_refund_posted,
        name="ops_refund_posted",
    ),
    path(
        "staff/payments/<uuid:payment_id>/refund-again/",
        ops_views.ops_refund_again,
        name="ops_refund_again",
    ),
    path("staff/payments/<uuid:payment_id>/receipt/", ops_views.ops_receipt, name="ops_receipt"),
]
