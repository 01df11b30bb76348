"""Which inference engine runs the model: transformers or llama.cpp, and the default between them.

The default is llama.cpp when `llama_cpp` is importable and the model is a
GGUF file (the embedded default is one), transformers for a Hugging Face
directory. An engine asked for by name and not installed is an error, never
a silent fallback.
"""

from __future__ import annotations

import importlib.util
import os
import pathlib

from mgd.errors import InputError, MGDError

TRANSFORMERS = "transformers"
LLAMA_CPP = "llama.cpp"
ENGINES = (TRANSFORMERS, LLAMA_CPP)

LLAMA_INSTALL = "pip install llama-cpp-python==0.3.36 (it compiles llama.cpp: bash scripts/setup.sh does it once)"


class EngineMissing(MGDError):
    """The engine asked for is not installed."""


def llama_cpp_installed() -> bool:
    """True if `llama_cpp` (llama-cpp-python) can be imported."""
    return importlib.util.find_spec("llama_cpp") is not None


def is_gguf_model(path: str | os.PathLike | None) -> bool:
    """True for the embedded default (None), a `.gguf` file, or a directory of GGUF files without a Hugging Face config."""
    if path is None:
        return True
    where = pathlib.Path(path)
    if where.is_file():
        return where.suffix == ".gguf"
    return where.is_dir() and not (where / "config.json").is_file() and any(where.glob("*.gguf"))


def choose_engine(requested: str | None, model_path: str | os.PathLike | None) -> str:
    """The engine to run `model_path` on: `requested` if given (checked), else the default for that model."""
    if requested in (None, "", "auto"):
        return LLAMA_CPP if llama_cpp_installed() and is_gguf_model(model_path) else TRANSFORMERS
    if requested not in ENGINES:
        raise InputError(f"unknown engine {requested!r}: choose {' or '.join(ENGINES)}")
    if requested == LLAMA_CPP:
        if not llama_cpp_installed():
            raise EngineMissing(f"the llama.cpp engine is not installed: {LLAMA_INSTALL}")
        if not is_gguf_model(model_path):
            raise InputError(f"the llama.cpp engine runs GGUF models; {model_path} is not one (use --engine transformers)")
    elif model_path is not None and pathlib.Path(model_path).is_file():
        raise InputError(f"the transformers engine loads model directories; {model_path} is a file (use --engine llama.cpp)")
    return requested


def engine_of(model) -> str:
    """The engine a loaded model runs on."""
    return getattr(model, "engine", TRANSFORMERS)
