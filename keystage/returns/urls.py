from django.urls import path

from keystage.returns import views

app_name = "returns"

urlpatterns = [
    # A school's side: what it sends to its LA.
    path("schools/<id:org_id>/la-returns/", views.school, name="school"),
    path("schools/<id:org_id>/la-returns/send/", views.send, name="send"),
    path("schools/<id:org_id>/la-returns/checking/", views.checking, name="checking"),
    path("schools/<id:org_id>/la-returns/rounds/<id:round_id>/confirm/", views.confirm, name="confirm"),
    # A file sent, seen by the school or its LA.
    path("la-returns/files/<id:return_id>/", views.return_detail, name="return_detail"),
    path("la-returns/files/<id:return_id>/download/", views.return_download, name="return_download"),
    path("la-returns/reports/<id:report_id>/download/", views.report_download, name="report_download"),
    # The LA's side.
    path("local-authorities/<id:org_id>/la-returns/", views.la, name="la"),
    path("local-authorities/<id:org_id>/la-returns/open/", views.open_round, name="open_round"),
    path("local-authorities/<id:org_id>/la-returns/<id:round_id>/", views.round_page, name="round"),
    path(
        "local-authorities/<id:org_id>/la-returns/<id:round_id>/schools/<id:school_id>/",
        views.round_school,
        name="round_school",
    ),
    path(
        "local-authorities/<id:org_id>/la-returns/<id:round_id>/schools/<id:school_id>/correction/",
        views.request_correction,
        name="request_correction",
    ),
    path(
        "local-authorities/<id:org_id>/la-returns/<id:round_id>/schools/<id:school_id>/accept/",
        views.accept,
        name="accept",
    ),
    path(
        "local-authorities/<id:org_id>/la-returns/<id:round_id>/schools/<id:school_id>/check/",
        views.check_again,
        name="check_again",
    ),
    path(
        "local-authorities/<id:org_id>/la-returns/<id:round_id>/schools/<id:school_id>/publish/",
        views.publish,
        name="publish",
    ),
]
