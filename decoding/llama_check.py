"""`python -m mgd.decoding.llama_check`: exit 0 if llama.cpp loads the embedded GGUF and decodes with it.

The set-up runs it in its own process: a llama.cpp build that does not fit
the CPU dies here (a segfault), not inside a user's generation.
"""

from __future__ import annotations

import sys


def main() -> int:
    """Load the default GGUF on llama.cpp, decode a few tokens greedily; 0 if they come out."""
    from mgd.decoding.llama_engine import LlamaEngine
    from mgd.decoding.sampling import Sampler
    from mgd.models import default_gguf_path

    engine = LlamaEngine(default_gguf_path(), n_ctx=256)
    ids = engine.run(engine.tokenizer.encode("def add(a, b):\n    return"), max_new_tokens=4, sampler=Sampler())
    print(repr(engine.tokenizer.decode(ids)))
    return 0 if ids else 1


if __name__ == "__main__":
    sys.exit(main())
