#!/usr/bin/env python3
"""Build the leaflet catalog: `python generate.py build`. See `python generate.py --help`."""

import sys

from careleaf.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
