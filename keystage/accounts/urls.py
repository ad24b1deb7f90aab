from django.urls import path

from keystage.accounts import views

app_name = "accounts"

urlpatterns = [
    path("sign-in/", views.sign_in, name="login"),
    path("sign-out/", views.sign_out, name="logout"),
    path("invitations/<str:token>/", views.accept_invitation, name="accept_invitation"),
    path("organisations/<id:org_id>/users/", views.user_list, name="user_list"),
    path("organisations/<id:org_id>/users/invite/", views.invite, name="invite"),
    path("organisations/<id:org_id>/users/<id:user_id>/", views.edit_user, name="edit_user"),
    path("organisations/<id:org_id>/users/<id:user_id>/remove/", views.revoke_user, name="revoke_user"),
    path(
        "organisations/<id:org_id>/invitations/<id:invitation_id>/resend/",
        views.resend_invitation,
        name="resend_invitation",
    ),
    path(
        "organisations/<id:org_id>/invitations/<id:invitation_id>/cancel/",
        views.cancel_invitation,
        name="cancel_invitation",
    ),
]
