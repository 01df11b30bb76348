"""Why a project could not be evaluated: it did not fetch, or its checker could not run (any language)."""

from __future__ import annotations

from mgd.errors import MGDError


class FetchError(MGDError):
    """A package could not be downloaded, unpacked or installed."""


class CheckerUnavailable(MGDError):
    """The checker of CR (basedpyright, ECJ) is not installed or did not produce a result."""
