from django.urls import path

from smartapp.clinical import booking_views, views

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
]
