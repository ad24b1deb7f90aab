"""`keystage demo`: everything the demo needs, then the web server and a worker until Ctrl+C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from argparse import ArgumentParser
from types import FrameType
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from keystage.estimates.demo import load_demo_estimates
from keystage.measures.demo import load_demo_reports
from keystage.returns.demo import load_demo_returns
from keystage.web.demo import (
    DEMO_PASSWORD,
    current_academic_year,
    load_demo,
    load_demo_collections,
    load_demo_rosters,
)


def _port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        # As gunicorn binds: connections of a stopped server lingering in TIME-WAIT do not count.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class Command(BaseCommand):
    help = (
        "Prepare the embedded database, load the demo organisations and users, then serve on "
        "http://127.0.0.1:8000 with a background worker. Safe to run again: it changes nothing that exists."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-serve", action="store_true", help="load the demo and stop, without serving")

    def handle(self, *args: Any, **options: Any) -> None:
        port = options["port"]
        if not options["no_serve"] and not _port_is_free(port):
            raise CommandError(
                f"Port {port} on 127.0.0.1 is already in use (is another keystage demo running?). "
                f"Stop it, or choose another port with --port."
            )
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        logins = load_demo()
        pupils = load_demo_rosters()
        collections = load_demo_collections()
        returns = load_demo_returns()
        self.stdout.write("Working out three years of figures against a synthetic national background…")
        reports = load_demo_reports()
        self.stdout.write("Fitting estimates (KS4, KS2 from KS1, KS5) on last year's national results…")
        estimates = load_demo_estimates()
        width = max(len(login.email) for login in logins)
        self.stdout.write(
            self.style.SUCCESS("\nkeystage demo is ready. Sign in as any of these, all with the password:")
        )
        self.stdout.write(f"\n    {DEMO_PASSWORD}\n")
        if not options["no_serve"] and os.environ.get("KEYSTAGE_TWO_FACTOR", "off") == "off":
            self.stdout.write("    (Two-factor sign-in is off in the demo: the password alone signs in.)\n")
        for login in logins:
            self.stdout.write(f"    {login.email.ljust(width)}  {login.role} — {login.organisation}")
        self.stdout.write(
            f"\n    {pupils} synthetic pupils on the demo schools' rolls for {current_academic_year() - 1}/"
            f"{str(current_academic_year())[-2:]} (names and results are made up)."
        )
        self.stdout.write(f"    Open for uploads: {', '.join(collections) or 'none'}.")
        self.stdout.write(f"    LA returns open: {', '.join(returns) or 'none'}.")
        if reports:
            self.stdout.write(f"    Reports worked out: {', '.join(reports)}.")
        if estimates:
            self.stdout.write(f"    Estimates fitted: {'; '.join(estimates)}.")
        if options["no_serve"]:
            return
        self._serve(port)

    def _serve(self, port: int) -> None:
        url = f"http://127.0.0.1:{port}"
        self.stdout.write(
            self.style.SUCCESS(f"\nServing on {url}  (Ctrl+C stops the server and the worker)\n")
        )
        env = {
            **os.environ,
            "KEYSTAGE_BASE_URL": os.environ.get("KEYSTAGE_BASE_URL", url),
            # Everyone knows the demo's password, and no one has its people's phones.
            "KEYSTAGE_TWO_FACTOR": os.environ.get("KEYSTAGE_TWO_FACTOR", "off"),
        }
        keystage = [sys.executable, "-m", "keystage.cli"]
        worker = subprocess.Popen([*keystage, "worker"], env=env)
        server = subprocess.Popen(
            [*keystage, "serve", "--bind", f"127.0.0.1:{port}", "--no-collectstatic"], env=env
        )

        def stop(signum: int, frame: FrameType | None) -> None:
            raise KeyboardInterrupt

        # Stopped by a signal rather than Ctrl+C, still take the server and worker down with us.
        signal.signal(signal.SIGTERM, stop)
        try:
            while server.poll() is None:
                if worker.poll() is not None:
                    self.stderr.write(f"The worker stopped (exit {worker.returncode}); starting another.")
                    worker = subprocess.Popen([*keystage, "worker"], env=env)
                time.sleep(1)
            self.stderr.write(f"The web server stopped (exit {server.returncode}).")
        except KeyboardInterrupt:
            pass
        finally:
            # A second Ctrl+C while we tidy up must not leave the children running.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            for process in (server, worker):
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for process in (server, worker):
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
        self.stdout.write("Stopped.")
