"""Platform staff manage people here: create first administrators, deactivate accounts, reset passwords."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import ValidationError

from keystage.accounts.models import Invitation, Membership, User, normalise_email


class MembershipInline(admin.TabularInline[Membership, User]):
    model = Membership
    fk_name = "user"
    extra = 0
    autocomplete_fields = ["organisation"]
    readonly_fields = ["granted_by", "granted_at"]


class _UniqueEmailMixin:
    """Emails are stored in lower case: find a clash in any case before the database does."""

    cleaned_data: dict[str, object]
    instance: User

    def clean_email(self) -> str:
        email = normalise_email(str(self.cleaned_data.get("email", "")))
        if User.objects.filter(email=email).exclude(pk=self.instance.pk).exists():
            raise ValidationError("A user with this email address already exists.")
        return email


class KeystageUserCreationForm(_UniqueEmailMixin, AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "full_name")


class KeystageUserChangeForm(_UniqueEmailMixin, UserChangeForm[User]):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(BaseUserAdmin):  # type: ignore[type-arg]  # stubs want AbstractUser; ours is leaner
    form = KeystageUserChangeForm
    add_form = KeystageUserCreationForm
    ordering = ["email"]
    list_display = ["email", "full_name", "is_active", "is_staff", "last_login"]
    list_filter = ["is_active", "is_staff"]
    search_fields = ["email", "full_name"]
    inlines = [MembershipInline]
    fieldsets = (
        (None, {"fields": ("email", "full_name", "password")}),
        ("Status", {"fields": ("is_active", "is_staff", "is_superuser")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "full_name", "password1", "password2")}),
    )
    filter_horizontal = ()


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin[Invitation]):
    list_display = ["email", "organisation", "created_at", "expires_at", "accepted_at", "cancelled_at"]
    search_fields = ["email", "organisation__name"]
    readonly_fields = [f.name for f in Invitation._meta.fields]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False
