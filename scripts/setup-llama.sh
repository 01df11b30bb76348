#!/usr/bin/env bash
# The llama.cpp engine: llama-cpp-python is a source package that compiles
# llama.cpp with this machine's gcc and cmake (3-20 minutes on 2 cores; pip
# keeps the built wheel in its cache, so later installs are quick).
# The build is portable (AVX2, no -march=native): a native build crashed
# here in its first decode on a CPU with AVX-512 and AMX, and a cached wheel
# may be reused on another machine. Each install is smoke-tested in a
# separate process (a bad build segfaults); one that fails is rebuilt
# without the cache, and if that fails too it is removed, so mgd falls back
# to transformers by default and says so when llama.cpp is asked for.
set -uo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
VERSION="0.3.36"
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON}"
works() { "$PY" -m mgd.decoding.llama_check >/dev/null 2>&1; }
if works; then exit 0; fi
echo "setup-llama: building llama-cpp-python $VERSION (compiles llama.cpp; minutes)" >&2
"$PY" -m pip install --quiet "llama-cpp-python==$VERSION" && works && exit 0
echo "setup-llama: the installed build does not run; rebuilding without pip's cache" >&2
"$PY" -m pip cache remove llama_cpp_python >/dev/null 2>&1 || true
"$PY" -m pip install --quiet --no-cache-dir --force-reinstall --no-deps "llama-cpp-python==$VERSION" && works && exit 0
echo "setup-llama: llama.cpp does not run on this machine; removed (the transformers engine is used)" >&2
"$PY" -m pip uninstall --quiet -y llama-cpp-python >/dev/null 2>&1 || true
exit 0
