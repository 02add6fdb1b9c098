"""Run ``uvrpc-gen`` as ``python -m uvrpc_gen``."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
