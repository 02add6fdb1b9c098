"""Importing a generated module from a file, as the generator tests need to."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def import_file(path: Path, name: str) -> ModuleType:
    """Import the file ``path`` as the module ``name``.

    The module is in ``sys.modules`` before it runs, as pydantic resolves a
    generated module's annotations there, and is taken out again if it fails.
    """
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
