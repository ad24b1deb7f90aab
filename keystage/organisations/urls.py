from django.urls import path

from keystage.organisations import views

app_name = "organisations"

urlpatterns = [
    path("organisations/<id:org_id>/", views.detail, name="detail"),
]
