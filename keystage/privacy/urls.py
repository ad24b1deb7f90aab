from django.urls import path

from keystage.privacy import views

app_name = "privacy"

urlpatterns = [
    path("schools/<id:org_id>/subject-access/", views.subject_access_export, name="subject_access"),
]
