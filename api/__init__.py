"""mgd: monitor-guided decoding for language models of code.

A language server tells, at each dereference, which members exist; a logits
processor masks every token that would name anything else.
"""

from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("mgd")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0"

from mgd.errors import InputError, MGDError

__all__ = ["Completion", "InputError", "MGDError", "generate", "__version__"]


def __getattr__(name: str):
    # torch and transformers load only when generation is asked for, so
    # `mgd --help` and error messages stay instant.
    if name in ("generate", "Completion"):
        import importlib

        value = getattr(importlib.import_module(".completion", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mgd' has no attribute {name!r}")
