"""``python -m uvrpc``: the same as the ``uvrpc`` command."""

import sys

from .cli.main import main

sys.exit(main())
