"""Package lists: one package a line, `#` comments allowed; each language parses its own lines."""

from __future__ import annotations

import os
from typing import Callable

from mgd.errors import InputError


def read_package_list(path: str | os.PathLike, parse: Callable[[str, str], list]) -> list:
    """Read a package-list file with `parse(text, source)`; InputError if missing, malformed or empty."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise InputError(f"package list {path} does not exist") from None
    except (IsADirectoryError, UnicodeDecodeError) as err:
        raise InputError(f"package list {path} is not a text file ({err})") from None
    specs = parse(text, str(path))
    if not specs:
        raise InputError(f"package list {path} names no packages")
    return specs
