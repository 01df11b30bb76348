"""mgd: monitor-guided decoding for language models of code.

A language server tells, at each dereference, which members exist; a logits
processor masks every token that would name anything else.
"""

from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("mgd")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0"

from .errors import MGDError
from .generate import Completion, generate

__all__ = ["Completion", "MGDError", "generate", "__version__"]
