#!/usr/bin/env python
"""Django's command-line utility; `keystage` wraps it with the product's own commands."""

import sys

from keystage.cli import main

if __name__ == "__main__":
    sys.exit(main(["manage", *sys.argv[1:]]))
