"""The token index against the real SmolLM2 tokenizer.

Soundness: every token the index allows, appended to the typed part of a
name, stays on the way to an allowed name (and if the token goes on past the
name, the name is complete and no second member name starts inside it).
Completeness: every allowed name can be written to the end and then left.
"""

from __future__ import annotations

import re

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mgd.decoding.token_index import NameTrie, token_index_for

IDENT = re.compile(rb"[A-Za-z0-9_\x80-\xff]*")
NAMES = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,14}\Z", fullmatch=True)


def _index(tokenizer):
    return token_index_for(tokenizer)


def _allowed_by_definition(data: bytes | None, typed: bytes, names: set[bytes]) -> bool:
    """The rule, written independently of the trie walk."""
    if not data:
        return False
    head = IDENT.match(data).group(0)
    rest = data[len(head) :]
    word = typed + head
    if not rest:
        return bool(head) and any(n.startswith(word) for n in names)
    opens_second_name = re.search(rb"\.[A-Za-z0-9_\x80-\xff]", rest) is not None
    return word in names and not opens_second_name


def test_token_bytes_round_trip_real_code(tokenizer):
    index = _index(tokenizer)
    source = open(__file__, encoding="utf-8").read() + "\nname = 'naïve café ünïcode'\n"
    ids = tokenizer(source, add_special_tokens=False)["input_ids"]
    assert b"".join(index.token_bytes[i] for i in ids).decode("utf-8") == tokenizer.decode(ids)


def test_index_covers_merged_tokens_of_smollm2(tokenizer):
    index = _index(tokenizer)
    merged = {index.token_bytes[t] for t in index.dot_merged.tolist()}
    assert {b"._", b".__"} <= merged


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.sets(NAMES, min_size=1, max_size=12), data=st.data())
def test_allowed_tokens_are_exactly_those_the_rule_allows(tokenizer, names, data):
    index = _index(tokenizer)
    encoded = {n.encode() for n in names}
    chosen = data.draw(st.sampled_from(sorted(names))).encode()
    typed = chosen[: data.draw(st.integers(0, len(chosen)))]
    node = NameTrie.build(names).follow(typed)
    mask = torch.from_numpy(index.allowed_mask(node))
    assert torch.equal(mask, torch.from_numpy(index.scan_allowed(node)))
    for tid in torch.nonzero(mask).flatten().tolist():
        if tid in index.end_ids:
            assert typed in encoded
            continue
        assert _allowed_by_definition(index.token_bytes[tid], typed, encoded), index.token_bytes[tid]
    # spot-check the complement too: a sample of masked tokens breaks the rule
    masked = torch.nonzero(~mask).flatten()
    for tid in masked[torch.randperm(len(masked))[:300]].tolist():
        assert not _allowed_by_definition(index.token_bytes[tid], typed, encoded)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.sets(NAMES, min_size=1, max_size=10), data=st.data())
def test_every_name_stays_reachable_and_can_be_left(tokenizer, names, data):
    index = _index(tokenizer)
    trie = NameTrie.build(names)
    target = data.draw(st.sampled_from(sorted(names))).encode()
    typed = b""
    while typed != target:
        mask = torch.from_numpy(index.allowed_mask(trie.follow(typed)))
        steps = [
            t
            for t in torch.nonzero(mask).flatten().tolist()
            if index.token_bytes[t] and target.startswith(typed + index.token_bytes[t])
        ]
        assert steps, f"no allowed token continues {typed!r} toward {target!r}"
        typed += index.token_bytes[data.draw(st.sampled_from(steps))]
    mask = torch.from_numpy(index.allowed_mask(trie.follow(target)))
    assert mask[tokenizer.convert_tokens_to_ids("(")]
    assert mask[tokenizer.eos_token_id]


def test_name_then_paren_and_merged_forms(tokenizer):
    index = _index(tokenizer)
    trie = NameTrie.build({"append", "_items", "__len__"})
    root_mask = torch.from_numpy(index.allowed_mask(trie))
    allowed = {index.token_bytes[t] for t in torch.nonzero(root_mask).flatten().tolist()}
    assert b"append" in allowed and b"_" in allowed and b"__" in allowed
    assert b"appendix" not in allowed and b"(" not in allowed
    done = torch.from_numpy(index.allowed_mask(trie.follow(b"append")))
    done_bytes = {index.token_bytes[t] for t in torch.nonzero(done).flatten().tolist()}
    assert {b"(", b"()", b"):", b")", b"."} & done_bytes >= {b"(", b"."}
    # a token that would finish this name and start another member name is never allowed
    assert b"._" not in done_bytes and b"().__" not in done_bytes
