"""`keystage serve`: the web server, gunicorn in front of Django with WhiteNoise for static files."""

from __future__ import annotations

import os
import sys
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve keystage with gunicorn (static files through WhiteNoise)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--bind", default=os.environ.get("KEYSTAGE_BIND", "127.0.0.1:8000"))
        parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "2")))
        parser.add_argument(
            "--threads",
            type=int,
            default=int(os.environ.get("KEYSTAGE_WEB_THREADS", "4")),
            help="requests each worker serves at once: a page is not queued behind a large upload",
        )
        parser.add_argument("--timeout", type=int, default=60, help="seconds before a stuck request is ended")
        parser.add_argument(
            "--no-collectstatic",
            action="store_true",
            help="skip collecting static files (when a deployment step already did)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["no_collectstatic"]:
            # Pages name static files by content hash: the server needs the collected set.
            call_command("collectstatic", interactive=False, verbosity=0)
        # A page waits at most this long for SQLite's write lock, then answers 503 (a demo's worker
        # may have passed its own, longer wait down to this process).
        os.environ["KEYSTAGE_SQLITE_TIMEOUT"] = settings.WEB_SQLITE_TIMEOUT_SECONDS
        argv = [
            sys.executable,
            "-m",
            "gunicorn",
            "keystage.wsgi:application",
            "--bind",
            options["bind"],
            "--workers",
            str(options["workers"]),
            "--worker-class",
            "gthread",
            "--threads",
            str(options["threads"]),
            "--timeout",
            str(options["timeout"]),
            "--access-logfile",
            "-",
            "--limit-request-line",
            "8190",
        ]
        os.execv(sys.executable, argv)
