"""`keystage bench NAME`: run a benchmark from bench/; each prints ratios to a baseline from its own run."""

from __future__ import annotations

import runpy
import sys
from argparse import REMAINDER, ArgumentParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

BENCH_DIR = Path(settings.BASE_DIR) / "bench"


class Command(BaseCommand):
    help = "Run a benchmark from bench/: " + ", ".join(sorted(p.stem for p in BENCH_DIR.glob("*.py")))

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("name", help="the benchmark, e.g. synth")
        parser.add_argument(
            "bench_options", nargs=REMAINDER, metavar="...", help="its own options (NAME --help lists them)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        script = BENCH_DIR / f"{options['name']}.py"
        if not script.is_file():
            known = ", ".join(sorted(p.stem for p in BENCH_DIR.glob("*.py")))
            raise CommandError(f"No benchmark {options['name']}; there are: {known}")
        sys.argv = [str(script), *options["bench_options"]]
        runpy.run_path(str(script), run_name="__main__")
