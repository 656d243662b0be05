from django.urls import path

from smartapp.clinical import views

app_name = "clinical"
urlpatterns = [
    path("l/<uuid:public_id>/", views.launch_home, name="launch_home"),
    path("l/<uuid:public_id>/chart/", views.chart, name="chart"),
    path("l/<uuid:public_id>/home/", views.patient_home, name="patient_home"),
]
