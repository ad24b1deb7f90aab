"""The `keystage` command: the product's own subcommands and every Django management command.

keystage demo      set up the embedded database, load the demo, run the server and a worker
keystage serve     run the web server (gunicorn, static files through WhiteNoise)
keystage worker    run a background worker (Django Tasks, database backend)
keystage help      list every subcommand; `keystage SUBCOMMAND --help` for one
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keystage.settings")
    from django.core.management import execute_from_command_line

    prog = "keystage"
    if len(args) > 1 and args[1] not in {"serve", "runserver"}:
        # The worker and commands may wait for SQLite's write lock longer than a web page does.
        os.environ.setdefault("KEYSTAGE_SQLITE_TIMEOUT", "30")
    if len(args) < 2 or args[1] in {"-h", "--help"}:
        args = [prog, "help"]
    execute_from_command_line([prog, *args[1:]])
    return 0


if __name__ == "__main__":
    sys.exit(main())
