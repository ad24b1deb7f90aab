"""Platform staff manage people here: create first administrators, deactivate accounts, reset passwords."""

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest
from django_otp.plugins.otp_static.admin import StaticDeviceAdmin
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin
from django_otp.plugins.otp_totp.models import TOTPDevice

from keystage.accounts import services
from keystage.accounts.models import Invitation, Membership, User, normalise_email
from keystage.audit.log import client_address

# django-otp's own device pages would let staff add an authenticator with a key of their choosing,
# or delete one with no audit record. Staff reset a person's two-factor sign-in with the action on
# the user list instead: audited, and the person sets it up again themselves.
for _model, _admin in ((TOTPDevice, TOTPDeviceAdmin), (StaticDevice, StaticDeviceAdmin)):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


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
    list_display = ["email", "full_name", "is_active", "is_staff", "two_factor", "last_login"]
    list_filter = ["is_active", "is_staff"]
    search_fields = ["email", "full_name"]
    inlines = [MembershipInline]
    actions = ["reset_two_factor"]
    fieldsets = (
        (None, {"fields": ("email", "full_name", "password")}),
        ("Status", {"fields": ("is_active", "is_staff", "is_superuser")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "full_name", "password1", "password2")}),
    )
    filter_horizontal = ()

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        authenticator = TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)
        users: QuerySet[User] = super().get_queryset(request)
        return users.annotate(has_authenticator=Exists(authenticator))

    @admin.display(boolean=True, description="two-factor", ordering="has_authenticator")
    def two_factor(self, user: User) -> bool:
        return bool(getattr(user, "has_authenticator", False))

    @admin.action(description="Reset two-factor sign-in of the selected people", permissions=["change"])
    def reset_two_factor(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        assert isinstance(request.user, User)
        reset = [
            user.email
            for user in queryset
            if services.reset_two_factor_as_platform_staff(
                actor=request.user, user=user, ip_address=client_address(request)
            )
        ]
        if reset:
            self.message_user(
                request,
                f"Two-factor sign-in reset for {', '.join(reset)}: "
                "they set it up again when they next sign in.",
                messages.SUCCESS,
            )
        else:
            self.message_user(request, "None of them had set up two-factor sign-in.", messages.WARNING)


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin[Invitation]):
    list_display = ["email", "organisation", "created_at", "expires_at", "accepted_at", "cancelled_at"]
    search_fields = ["email", "organisation__name"]
    readonly_fields = [f.name for f in Invitation._meta.fields]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False
