"""Reports as PDF: the page's own template laid out for print (``reports/print.html`` in place of the
site's frame), drawn by WeasyPrint with a print stylesheet of our own and the charts as inline SVG.

The pages' GOV.UK stylesheet is not used: laid out by WeasyPrint it costs about three times as much
per table row, and a printed report wants no navigation, forms or focus styles anyway.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import weasyprint
from django.conf import settings
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone

PRINT_CSS = Path(__file__).with_name("print.css")


class NothingFetched(Exception):
    """A report never loads anything from elsewhere: its charts are inline and its styles our own."""


def _refuse_fetch(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    raise NothingFetched(f"A report PDF does not fetch {url!r}.")


@lru_cache(maxsize=1)
def _stylesheet() -> weasyprint.CSS:
    return weasyprint.CSS(string=PRINT_CSS.read_text(encoding="utf-8"), url_fetcher=_refuse_fetch)


def render_pdf(
    template: str, context: dict[str, Any], *, request: HttpRequest | None = None, printed_for: str = ""
) -> bytes:
    """The report page ``template`` as a PDF: the same context, the print frame. Drawn for the person
    of the ``request``, or, by the worker, for ``printed_for``."""
    if request is not None and not printed_for:
        user: Any = request.user
        printed_for = user.full_name or user.email
    frame = {"base_template": "reports/print.html", "printing": True, "printed_at": timezone.now()}
    html = render_to_string(template, {**context, **frame, "printed_for": printed_for}, request=request)
    document = weasyprint.HTML(string=html, url_fetcher=_refuse_fetch, base_url=settings.KEYSTAGE_BASE_URL)
    data: bytes = document.write_pdf(stylesheets=[_stylesheet()])
    return data
