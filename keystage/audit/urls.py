from django.urls import path

from keystage.audit import views

app_name = "audit"

urlpatterns = [
    path("organisations/<int:org_id>/audit/", views.organisation_log, name="organisation_log"),
]
