"""Package lists: `name==version` lines, `#` comments allowed."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from ..errors import InputError

_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9][A-Za-z0-9.+!_-]*)$")


@dataclass(frozen=True, order=True)
class PackageSpec:
    """One pinned PyPI package."""

    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.name}=={self.version}"

    @property
    def slug(self) -> str:
        """A directory name for this package and version."""
        return f"{normalise(self.name)}-{self.version}"


def normalise(name: str) -> str:
    """PEP 503 normal form of a project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_package_list(text: str, source: str = "<packages>") -> list[PackageSpec]:
    """Parse `name==version` lines; raise InputError naming the first bad line."""
    specs: list[PackageSpec] = []
    seen: set[str] = set()
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _LINE.match(line)
        if match is None:
            raise InputError(f"{source}:{number}: expected name==version, got {line!r}")
        spec = PackageSpec(match.group(1), match.group(2))
        if normalise(spec.name) in seen:
            raise InputError(f"{source}:{number}: {spec.name} is listed twice")
        seen.add(normalise(spec.name))
        specs.append(spec)
    return specs


def read_package_list(path: str | os.PathLike, parse=None) -> list:
    """Read a package-list file with `parse` (default: PyPI `name==version` lines); InputError if missing, malformed or empty."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise InputError(f"package list {path} does not exist") from None
    except (IsADirectoryError, UnicodeDecodeError) as err:
        raise InputError(f"package list {path} is not a text file ({err})") from None
    specs = (parse or parse_package_list)(text, str(path))
    if not specs:
        raise InputError(f"package list {path} names no packages")
    return specs
