"""Monitors chosen by name for a file's language, with a message that says what went wrong."""

from __future__ import annotations

from mgd.monitors import LANGUAGES, Monitor, monitors_by_name


def monitors_named(spec: str, language: str) -> list[Monitor]:
    """The monitors `spec` names (comma-separated) for `language`; ValueError saying which name is wrong and why."""
    try:
        return monitors_by_name(spec, language)
    except ValueError as err:
        own = LANGUAGES[language].monitors
        for name in (part.strip() for part in spec.split(",")):
            if name and name not in own:
                others = [other.name for other in LANGUAGES.values() if name in other.monitors]
                if others:  # a monitor of another language: say so, rather than "unknown"
                    raise ValueError(
                        f"{name} is a {_title(others[0])} monitor; {_title(language)} files take {', '.join(own)}"
                    ) from None
        raise err from None


def _title(language: str) -> str:
    return {"python": "Python", "java": "Java"}.get(language, language)
