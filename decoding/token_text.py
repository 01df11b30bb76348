"""The exact bytes each vocabulary entry contributes to decoded text.

Constraints work on bytes, not on `tokenizer.decode` of single tokens: decoding
one token alone drops the leading space of SentencePiece pieces and mangles
partial UTF-8. We read the bytes off the vocabulary for the two common
families and fall back to decoding each token in the context it extends.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache

log = logging.getLogger("mgd")


@lru_cache(maxsize=1)
def _byte_level_decoder() -> dict[str, int]:
    # The GPT-2 byte-to-unicode table: printable bytes map to themselves, the
    # rest are shifted past 255 so every byte has a visible stand-in.
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    codes = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            codes.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(printable, codes)}


def _decoder_kinds(tokenizer) -> set[str]:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return set()
    spec = json.loads(backend.to_str()).get("decoder") or {}
    kinds = {spec.get("type", "")}
    for sub in spec.get("decoders", []) or []:
        kinds.add(sub.get("type", ""))
    return kinds


def special_token_ids(tokenizer) -> set[int]:
    """Ids of special and added control tokens, which carry no source text."""
    ids = set(getattr(tokenizer, "all_special_ids", []) or [])
    for tid, added in (getattr(tokenizer, "added_tokens_decoder", {}) or {}).items():
        if getattr(added, "special", True):
            ids.add(int(tid))
    return ids


def token_bytes_table(tokenizer) -> list[bytes | None]:
    """Return, for every token id, its bytes in decoded text (None for special tokens)."""
    own = getattr(tokenizer, "vocabulary_bytes", None)
    if callable(own):  # an engine's own vocabulary (llama.cpp reads it off the GGUF)
        return list(own())
    size = len(tokenizer)
    pieces = tokenizer.convert_ids_to_tokens(list(range(size)))
    specials = special_token_ids(tokenizer)
    kinds = _decoder_kinds(tokenizer)
    table: list[bytes | None] = [None] * size
    if "ByteLevel" in kinds:
        decoder = _byte_level_decoder()
        for tid, piece in enumerate(pieces):
            if tid in specials or piece is None:
                continue
            try:
                table[tid] = bytes(decoder[ch] for ch in piece)
            except KeyError:  # an added plain-text token
                table[tid] = piece.encode("utf-8")
        return table
    if "Metaspace" in kinds or "ByteFallback" in kinds or "Replace" in kinds:
        for tid, piece in enumerate(pieces):
            if tid in specials or piece is None:
                continue
            if len(piece) == 6 and piece.startswith("<0x") and piece.endswith(">"):
                table[tid] = bytes([int(piece[3:5], 16)])
            else:
                table[tid] = piece.replace("\u2581", " ").encode("utf-8")
        return table
    return _context_decoded_table(tokenizer, specials)


def text_of(table: list[bytes | None], ids) -> str:
    """The text that token ids `ids` decode to, read off `table` (special tokens add nothing)."""
    return b"".join(table[int(t)] or b"" for t in ids).decode("utf-8", errors="replace")


def _context_decoded_table(tokenizer, specials: set[int]) -> list[bytes | None]:
    # Decode each token after an anchor token and keep what it added, so
    # tokenizers that drop a leading space at the start of text still agree.
    anchor = tokenizer.encode("a", add_special_tokens=False)[:1]
    base = tokenizer.decode(anchor).encode("utf-8")
    table: list[bytes | None] = [None] * len(tokenizer)
    for tid in range(len(tokenizer)):
        if tid in specials:
            continue
        full = tokenizer.decode(anchor + [tid]).encode("utf-8")
        table[tid] = full[len(base):] if full.startswith(base) else full
    log.info("token text: decoded %d tokens in context (unknown decoder)", len(table))
    return table
