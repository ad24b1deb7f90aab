from django.urls import path

from keystage.results import views

app_name = "results"

urlpatterns = [
    path("results/", views.index, name="index"),
    path("results/<id:collection_id>/schools/<id:school_id>/", views.service_home, name="service_home"),
    path(
        "results/<id:collection_id>/schools/<id:school_id>/template/",
        views.get_template,
        name="get_template",
    ),
    path("results/<id:collection_id>/schools/<id:school_id>/upload/", views.upload, name="upload"),
    path("results/<id:collection_id>/schools/<id:school_id>/ctf/", views.ctf_download, name="ctf_download"),
    path("results/<id:collection_id>/schools/<id:school_id>/ctf/send/", views.ctf_send, name="ctf_send"),
    path("uploads/", views.history, name="history"),
    path("uploads/<id:upload_id>/", views.upload_detail, name="upload_detail"),
    path("uploads/<id:upload_id>/status/", views.upload_status, name="upload_status"),
    path("uploads/<id:upload_id>/confirm/", views.confirm, name="confirm"),
    path("uploads/<id:upload_id>/delete/", views.delete, name="delete"),
    path("uploads/<id:upload_id>/file/", views.download, {"which": "file"}, name="download_file"),
    path("uploads/<id:upload_id>/errors/", views.download, {"which": "errors"}, name="download_errors"),
    path("organisations/<id:org_id>/bulk-upload/", views.bulk_upload, name="bulk_upload"),
    path("organisations/<id:org_id>/bulk-upload/<str:batch>/", views.bulk_batch, name="bulk_batch"),
    path(
        "organisations/<id:org_id>/bulk-upload/<str:batch>/status/",
        views.bulk_batch_status,
        name="bulk_batch_status",
    ),
]
