"""The real URLs plus two that fail on purpose, so the browser can check the 400 and 500 pages."""

from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from django.urls import path

from keystage.urls import handler400, handler403, handler404, handler500, urlpatterns


def _crash(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a deliberate failure for the 500 page")


def _suspicious(request: HttpRequest) -> HttpResponse:
    raise SuspiciousOperation("a deliberate bad request for the 400 page")


urlpatterns = [*urlpatterns, path("__crash__/", _crash), path("__suspicious__/", _suspicious)]
__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
