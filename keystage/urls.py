from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import include, path


def _admin_sign_in(request: HttpRequest, extra_context: object = None) -> HttpResponse:
    """The admin signs in through the same throttled, audited page as everyone else.

    Someone already signed in who is not platform staff is refused, not sent round in a loop.
    """
    if request.user.is_authenticated:
        raise PermissionDenied("Platform administration is for platform staff.")
    return redirect_to_login(request.GET.get("next", "/admin/"))


admin.site.site_header = "keystage platform administration"
admin.site.site_title = "keystage admin"
admin.site.login = _admin_sign_in  # type: ignore[method-assign]

urlpatterns = [
    path("", include("keystage.web.urls")),
    path("", include("keystage.accounts.urls")),
    path("", include("keystage.organisations.urls")),
    path("", include("keystage.audit.urls")),
    path("", include("keystage.results.urls")),
    path("", include("keystage.returns.urls")),
    path("", include("keystage.reports.urls")),
    path("", include("keystage.estimates.urls")),
    path("", include("keystage.privacy.urls")),
    path("api/v1/", include("keystage.api.urls")),
    path("account/", include("keystage.api.account_urls")),
    path("admin/", admin.site.urls),
]

handler400 = "keystage.web.views.bad_request"
handler403 = "keystage.web.views.permission_denied"
handler404 = "keystage.web.views.page_not_found"
handler500 = "keystage.web.views.server_error"
