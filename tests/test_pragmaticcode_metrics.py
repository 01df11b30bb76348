"""PragmaticCode metrics against hand-worked examples, and the lexer against Python's tokenize."""

from __future__ import annotations

import io
import keyword
import pathlib
import token
import tokenize
from math import comb

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mgd.pragmaticcode.metrics import (
    identifier_sequence_match,
    next_identifier_match,
    prefix_match,
    score_at_k,
)
from mgd.pragmaticcode.python.lexer import identifiers, tokens

TRUTH = 'get_book(isbn, default=None)\n        return book.title\n'


def test_next_identifier_match_compares_the_first_identifier_only():
    assert next_identifier_match("get_book(x)", TRUTH) == 1.0
    assert next_identifier_match("get_books(isbn)", TRUTH) == 0.0
    assert next_identifier_match("", TRUTH) == 0.0
    # Keywords are not identifiers: the first identifier of "not found" is "found".
    assert next_identifier_match("found", "not found") == 1.0


def test_identifier_sequence_match_is_the_matching_prefix_over_the_truths_count():
    # Truth identifiers: get_book isbn default book title (5; None and return are keywords).
    assert identifiers(TRUTH) == ["get_book", "isbn", "default", "book", "title"]
    assert identifier_sequence_match("get_book(isbn, default=0)\n        return book.author", TRUTH) == pytest.approx(4 / 5)
    assert identifier_sequence_match("get_book(code)", TRUTH) == pytest.approx(1 / 5)
    assert identifier_sequence_match("lookup(isbn)", TRUTH) == 0.0
    assert identifier_sequence_match(TRUTH + "extra", TRUTH) == 1.0


def test_prefix_match_counts_every_lexical_token_and_ignores_layout_and_comments():
    # Truth tokens: get_book ( isbn , default = None ) return book . title -> 12
    assert len(tokens(TRUTH)) == 12
    same_but_reformatted = "get_book(isbn,default=None)  # the book\n    return book.title"
    assert prefix_match(same_but_reformatted, TRUTH) == 1.0
    assert prefix_match("get_book(isbn, default=False)", TRUTH) == pytest.approx(6 / 12)
    assert prefix_match("get_book[", TRUTH) == pytest.approx(1 / 12)


@pytest.mark.parametrize(
    "values, k, expected",
    [
        ([1, 0, 0], 1, 1 / 3),
        ([1, 0, 0], 2, 2 / 3),  # one of the 3 pairs lacks the success: 1 - 1/3
        ([1, 0, 0], 3, 1.0),
        ([0, 1, 0, 1, 0], 2, 1 - comb(3, 2) / comb(5, 2)),  # pass@k: 1 - C(n-c,k)/C(n,k) = 0.7
        ([0.5, 1.0], 1, 0.75),
        ([0.5, 1.0], 2, 1.0),
        ([0.2, 0.8, 0.5], 2, (0.8 * 2 + 0.5 * 1 + 0.2 * 0) / 3),  # sorted 0.8,0.5,0.2; weights C(2,1),C(1,1),C(0,1)
        ([0.0, 0.0, 0.0, 0.0], 3, 0.0),
    ],
)
def test_score_at_k_follows_the_papers_formula(values, k, expected):
    assert score_at_k(values, k) == pytest.approx(expected)


@given(st.lists(st.integers(0, 1), min_size=1, max_size=8), st.data())
def test_score_at_k_on_zero_one_values_is_the_unbiased_pass_at_k(values, data):
    n, c = len(values), sum(values)
    k = data.draw(st.integers(1, n))
    assert score_at_k(values, k) == pytest.approx(1 - comb(n - c, k) / comb(n, k))


@pytest.mark.parametrize("k", [0, 4])
def test_score_at_k_rejects_k_outside_one_to_n(k):
    with pytest.raises(ValueError, match="1 <= k <= n"):
        score_at_k([1, 0, 1], k)


def _reference_tokens(source: str) -> list[str]:
    layout = {token.NEWLINE, token.NL, token.INDENT, token.DEDENT, token.COMMENT, token.ENDMARKER, token.ENCODING}
    return [t.string for t in tokenize.generate_tokens(io.StringIO(source).readline) if t.type not in layout]


@pytest.mark.parametrize("module", ["json/decoder.py", "textwrap.py", "dataclasses.py", "argparse.py"])
def test_lexer_agrees_with_tokenize_on_whole_standard_library_modules(module):
    source = (pathlib.Path(tokenize.__file__).parent / module).read_text(encoding="utf-8")
    assert [t.text for t in tokens(source)] == _reference_tokens(source)


def test_lexer_reads_fragments_that_tokenize_rejects():
    fragment = 'append(x))\n        if y:\n    return "unterminated'
    with pytest.raises((tokenize.TokenError, IndentationError, SyntaxError)):
        _reference_tokens(fragment)
    assert [t.text for t in tokens(fragment)] == ["append", "(", "x", ")", ")", "if", "y", ":", "return", '"unterminated']
    assert all(not keyword.iskeyword(name) for name in identifiers(fragment))
