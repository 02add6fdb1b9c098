"""``python -m uvrpc.bench``: the same as ``uvrpc bench``."""

import sys

from .cli import main

sys.exit(main())
