from django.urls import path

from smartapp.clinical import booking_views, message_views, views, visit_views

app_name = "clinical"
urlpatterns = [
    path("l/<uuid:public_id>/", views.launch_home, name="launch_home"),
    path("l/<uuid:public_id>/chart/", views.chart, name="chart"),
    path(
        "l/<uuid:public_id>/chart/appointments/",
        views.chart_appointments,
        name="chart_appointments",
    ),
    path("l/<uuid:public_id>/my-day/", views.my_day, name="my_day"),
    path("l/<uuid:public_id>/home/", views.patient_home, name="patient_home"),
    path("l/<uuid:public_id>/appointments/", views.my_appointments, name="my_appointments"),
    path("l/<uuid:public_id>/book/", booking_views.book, name="book"),
    path("l/<uuid:public_id>/book/confirm/", booking_views.book_confirm, name="book_confirm"),
    path(
        "l/<uuid:public_id>/appointments/<str:appointment_id>/cancel/",
        booking_views.cancel,
        name="cancel",
    ),
    path(
        "l/<uuid:public_id>/appointments/<str:appointment_id>/reschedule/",
        booking_views.reschedule,
        name="reschedule",
    ),
    # Visits (Encounters) and messages (Messages API; Communications for clinicians).
    path("l/<uuid:public_id>/chart/visits/", visit_views.chart_visits, name="chart_visits"),
    path("l/<uuid:public_id>/visits/", visit_views.my_visits, name="my_visits"),
    path("l/<uuid:public_id>/chart/messages/", message_views.chart_messages, name="chart_messages"),
    path(
        "l/<uuid:public_id>/chart/messages/<str:message_id>/",
        message_views.chart_message,
        name="chart_message",
    ),
    path("l/<uuid:public_id>/my-messages/", message_views.staff_messages, name="staff_messages"),
    path(
        "l/<uuid:public_id>/my-messages/<str:message_id>/",
        message_views.staff_message,
        name="staff_message",
    ),
    path("l/<uuid:public_id>/messages/", message_views.inbox, name="messages"),
    path("l/<uuid:public_id>/messages/sent/", message_views.sent, name="messages_sent"),
    path("l/<uuid:public_id>/messages/new/", message_views.compose, name="message_compose"),
    path("l/<uuid:public_id>/messages/<str:message_id>/", message_views.message, name="message"),
    path(
        "l/<uuid:public_id>/messages/<str:message_id>/reply/",
        message_views.reply,
        name="message_reply",
    ),
    path(
        "l/<uuid:public_id>/messages/<str:message_id>/delete/",
        message_views.delete,
        name="message_delete",
    ),
]
