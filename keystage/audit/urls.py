from django.urls import path

from keystage.audit import views

app_name = "audit"

urlpatterns = [
    path("organisations/<id:org_id>/audit/", views.organisation_log, name="organisation_log"),
]
