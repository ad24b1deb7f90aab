from django.urls import path

from keystage.estimates import views

app_name = "estimates"

urlpatterns = [
    path("estimates/", views.national, name="national"),
    path("estimates/fit/", views.request_fit, name="request_fit"),
    path("estimates/<id:org_id>/", views.school_estimates, name="school"),
    path("estimates/<id:org_id>/pupils/<str:upn>/", views.pupil_estimates, name="pupil"),
]
