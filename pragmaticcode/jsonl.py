"""Checking one JSON line of a dataset or results file, with an error that names the place."""

from __future__ import annotations

import json

from mgd.errors import InputError


def parse_object(line: str, where: str, required: dict[str, type | tuple[type, ...]]) -> dict:
    """Parse a JSON object and check its required fields' types; raise InputError naming `where`."""
    try:
        data = json.loads(line)
    except ValueError as err:
        raise InputError(f"{where}: not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise InputError(f"{where}: expected a JSON object")
    for key, kind in required.items():
        if not isinstance(data.get(key), kind):
            raise InputError(f"{where}: field {key!r} is missing or has the wrong type")
    return data
