"""What a client may configure, read from `initializationOptions` or `workspace/didChangeConfiguration`."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from mgd.monitor_choice import monitors_named
from mgd.monitors import DEFAULT_MONITORS, LANGUAGES

SECTION = "mgd"  # clients nest their settings under this key (`{"mgd": {...}}`); bare options work too


@dataclass(frozen=True)
class Settings:
    """The server's knobs; every field has a working default."""

    model: str | None = None  # a Hugging Face causal-LM directory or a GGUF file; None: the embedded SmolLM2
    engine: str | None = None  # "transformers" or "llama.cpp"; None: llama.cpp for a GGUF model if installed
    max_new_tokens: int = 32
    temperature: float = 0.0  # 0: greedy (and beam search for completion items)
    guided: bool = True
    monitors: str = DEFAULT_MONITORS  # for Python files
    java_monitors: str = LANGUAGES["java"].default_monitors  # for Java files
    multiline: bool = False  # inline completions may go on past the end of the line
    max_lines: int = 8  # cap on a multi-line inline completion
    completion_items: int = 3  # sequences decoded for `textDocument/completion`


# client spelling -> (field, checker); a checker returns the value or raises TypeError/ValueError
def _int_in(low: int, high: int):
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"must be a whole number from {low} to {high}")
        return value

    return check


def _temperature(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 5:
        raise ValueError("must be a number from 0 to 5")
    return float(value)


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError("must be true or false")
    return value


def _model(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise TypeError("must be a directory path or null")
    return value


def _engine(value: Any) -> str | None:
    from mgd.engines import ENGINES

    if value is None or value == "":
        return None
    if value not in ENGINES:
        raise ValueError(f"must be {' or '.join(ENGINES)} (or null for the default)")
    return value


def _monitors_of(language: str):
    def check(value: Any) -> str:
        if isinstance(value, (list, tuple)):
            value = ",".join(str(v) for v in value)
        if not isinstance(value, str):
            raise TypeError("must be a list of monitor names or a comma-separated string")
        monitors_named(value, language)  # raises ValueError naming an unknown monitor
        return ",".join(part.strip() for part in value.split(",") if part.strip())

    return check


_FIELDS = {
    "model": ("model", _model),
    "engine": ("engine", _engine),
    "maxNewTokens": ("max_new_tokens", _int_in(1, 512)),
    "temperature": ("temperature", _temperature),
    "guided": ("guided", _flag),
    "monitors": ("monitors", _monitors_of("python")),
    "javaMonitors": ("java_monitors", _monitors_of("java")),
    "multiline": ("multiline", _flag),
    "maxLines": ("max_lines", _int_in(1, 64)),
    "completionItems": ("completion_items", _int_in(1, 8)),
}


def update_settings(base: Settings, options: Any) -> tuple[Settings, list[str]]:
    """`base` with the client's options applied; each bad or unknown option is skipped and described."""
    if isinstance(options, dict) and isinstance(options.get(SECTION), dict):
        options = options[SECTION]
    if options is None:
        return base, []
    if not isinstance(options, dict):
        return base, [f"settings must be an object, not {type(options).__name__}"]
    changes: dict[str, Any] = {}
    problems = []
    for key, value in options.items():
        if key == SECTION:
            continue
        if key not in _FIELDS:
            problems.append(f"unknown setting {key!r} (known: {', '.join(_FIELDS)})")
            continue
        name, check = _FIELDS[key]
        try:
            changes[name] = check(value)
        except (TypeError, ValueError) as err:
            problems.append(f"setting {key!r} {err}; keeping {getattr(base, name)!r}")
    return replace(base, **changes), problems
