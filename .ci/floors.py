"""Print pip constraints that pin every dependency to the floor pyproject.toml gives it.

    python .ci/floors.py [EXTRA ...] > floors.txt
    pip install --constraint floors.txt -e '.[EXTRA]'

The runtime dependencies (``[project] dependencies``) are always pinned; so are
those of each named extra, and of the extras it names of this project in turn
(``uvrpc[bench,metrics]``). Each requirement must have a ``>=`` floor: one without
is an error, since the floor job could not say it was tested. An environment
marker is kept on its pin (pip applies a constraint only where its marker holds).
Requirements listed in ``UNPINNED`` are left to pip, each with its reason.

Standard library only: it runs before any virtual environment exists.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"

UNPINNED: dict[str, str] = {}
"""Requirements whose floor the suite does not test, and why."""

REQUIREMENT = re.compile(
    r"""^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)
        \s*(?:\[(?P<extras>[^\]]*)\])?
        \s*(?P<specifier>[^;]*?)
        \s*(?:;\s*(?P<marker>.+?))?\s*$""",
    re.VERBOSE,
)


def canonical(name: str) -> str:
    """A distribution name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def floor(requirement: str) -> tuple[str, str, str | None, list[str]]:
    """The name, floor, marker and self-extras of one requirement string."""
    found = REQUIREMENT.match(requirement)
    if found is None:
        raise SystemExit(f"floors.py: cannot read the requirement {requirement!r}")
    name = found["name"]
    extras = [e.strip() for e in (found["extras"] or "").split(",") if e.strip()]
    specifiers = [s.strip() for s in found["specifier"].split(",") if s.strip()]
    lower = [s[2:].strip() for s in specifiers if s.startswith(">=")]
    return name, lower[0] if len(lower) == 1 else "", found["marker"], extras


def constraints(extras: list[str]) -> list[str]:
    """The constraint lines for the runtime dependencies and ``extras``."""
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    own = canonical(project["name"])
    optional: dict[str, list[str]] = project.get("optional-dependencies", {})
    requirements = list(project.get("dependencies", []))
    todo, seen = list(extras), set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        if extra not in optional:
            raise SystemExit(f"floors.py: pyproject.toml has no extra {extra!r}")
        seen.add(extra)
        for requirement in optional[extra]:
            name, _, _, named = floor(requirement)
            if canonical(name) == own:
                todo.extend(named)
            else:
                requirements.append(requirement)
    lines: dict[str, str] = {}
    for requirement in requirements:
        name, lowest, marker, _ = floor(requirement)
        if canonical(name) in UNPINNED:
            continue
        if not lowest:
            raise SystemExit(
                f"floors.py: {requirement!r} in pyproject.toml needs one '>=' floor"
            )
        line = f"{canonical(name)}=={lowest}" + (f"; {marker}" if marker else "")
        lines.setdefault(f"{canonical(name)};{marker}", line)
    return sorted(lines.values())


def main(argv: list[str]) -> int:
    """Print the constraints for the extras named in ``argv``."""
    for line in constraints(argv):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
