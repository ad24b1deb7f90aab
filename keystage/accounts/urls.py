from django.urls import path

from keystage.accounts import two_factor_views, views

app_name = "accounts"

urlpatterns = [
    path("sign-in/", views.sign_in, name="login"),
    path("sign-out/", views.sign_out, name="logout"),
    path("sign-in/forgotten-password/", views.forgotten_password, name="forgotten_password"),
    path("sign-in/forgotten-password/sent/", views.reset_sent, name="reset_sent"),
    path("sign-in/new-password/<str:uidb64>/<str:token>/", views.reset_password, name="reset_password"),
    path("sign-in/two-factor/", two_factor_views.verify, name="two_factor_verify"),
    path("sign-in/two-factor/recovery-code/", two_factor_views.recovery, name="two_factor_recovery"),
    path("sign-in/two-factor/set-up/", two_factor_views.set_up, name="two_factor_setup"),
    path("account/two-factor/", two_factor_views.account, name="two_factor"),
    path(
        "account/two-factor/recovery-codes/",
        two_factor_views.recovery_codes,
        name="two_factor_recovery_codes",
    ),
    path(
        "account/two-factor/new-recovery-codes/",
        two_factor_views.renew_recovery_codes,
        name="two_factor_renew_codes",
    ),
    path("invitations/<str:token>/", views.accept_invitation, name="accept_invitation"),
    path("organisations/<id:org_id>/users/", views.user_list, name="user_list"),
    path("organisations/<id:org_id>/users/invite/", views.invite, name="invite"),
    path("organisations/<id:org_id>/users/<id:user_id>/", views.edit_user, name="edit_user"),
    path("organisations/<id:org_id>/users/<id:user_id>/remove/", views.revoke_user, name="revoke_user"),
    path(
        "organisations/<id:org_id>/users/<id:user_id>/reset-two-factor/",
        views.reset_two_factor,
        name="reset_two_factor",
    ),
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
