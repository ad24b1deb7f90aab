"""The results API, at /api/v1/. openapi/ describes every route here."""

from django.urls import path, re_path

from keystage.api import views

app_name = "api"

urlpatterns = [
    path("openapi.json", views.openapi_document, name="openapi"),
    path("collections", views.collections, name="collections"),
    path("validate", views.validate, name="validate"),
    path("validate/<int:check_id>", views.validate_result, name="validate_result"),
    path("uploads", views.uploads, name="uploads"),
    path("uploads/<id:upload_id>", views.upload, name="upload"),
    path("uploads/<id:upload_id>/confirm", views.confirm, name="confirm"),
    path("uploads/<id:upload_id>/error-workbook", views.error_workbook, name="error_workbook"),
    path("uploads/<id:upload_id>/results", views.upload_results, name="upload_results"),
    path("schools/<str:dfe>/measures", views.school_measures, name="school_measures"),
    path("schools/<str:dfe>/estimates", views.school_estimates, name="school_estimates"),
    # Anything else under /api/v1/ is a JSON 404, never the HTML page: [\s\S], because "." stops at a newline
    # and a path may hold an encoded one.
    re_path(r"^(?P<path>[\s\S]*)$", views.not_found, name="not_found"),
]
