"""``python -m uvrpc``: the same as the ``uvrpc`` command."""

import sys

from .cli import main

sys.exit(main())
