from django.urls import path

from smartapp.launch import views

app_name = "launch"
urlpatterns = [
    path("", views.start, name="start"),
    path("signin", views.sign_in, name="sign_in"),
    path("launch", views.ehr_launch, name="ehr_launch"),
    path("launch/callback", views.callback, name="callback"),
    path("l/<uuid:public_id>/sign-out/", views.sign_out, name="sign_out"),
    path("signed-out/", views.signed_out, name="signed_out"),
]
