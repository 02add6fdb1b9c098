"""uvrpc-gen: the code generator of uvrpc.

It reads ``.idl`` files and writes one typed Python module per file: messages,
enums, and for each service an asynchronous client, a blocking client and a server
base class. The pipeline is parse → check → render; see the modules of the same
names.
"""

from __future__ import annotations

from uvrpc import __version__

__all__ = ["__version__"]
