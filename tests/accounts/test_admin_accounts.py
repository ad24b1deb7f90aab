"""Platform staff creating accounts in the admin: duplicate emails in any case get a message, not a 500."""

from keystage.accounts.models import User
from tests.conftest import signed_in

# The membership inline's management form, as the admin page sends it.
INLINE = {"memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0"}


def _staff(django_user_model):
    return django_user_model.objects.create_superuser(
        "staff@example.org", "x-long-password-1", full_name="Staff"
    )


def test_adding_an_account_whose_email_exists_in_another_case_is_refused_clearly(db, django_user_model):
    User.objects.create_user("head@school.example", "x-long-password-2", full_name="Head")
    client = signed_in(_staff(django_user_model))
    response = client.post(
        "/admin/accounts/user/add/",
        {
            "email": "Head@School.EXAMPLE",
            "full_name": "Another Head",
            "password1": "a-long-fresh-password-42",
            "password2": "a-long-fresh-password-42",
            "usable_password": "true",
            **INLINE,
        },
    )
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert User.objects.filter(email="head@school.example").count() == 1


def test_staff_create_an_account_with_the_email_in_lower_case(db, django_user_model):
    client = signed_in(_staff(django_user_model))
    response = client.post(
        "/admin/accounts/user/add/",
        {
            "email": "New.Person@School.Example",
            "full_name": "New Person",
            "password1": "a-long-fresh-password-42",
            "password2": "a-long-fresh-password-42",
            "usable_password": "true",
            **INLINE,
        },
    )
    assert response.status_code == 302
    assert User.objects.filter(email="new.person@school.example").exists()
