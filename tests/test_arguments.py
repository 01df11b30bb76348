"""The call-arguments monitor: signatures, the rules, and the real server and tokenizer."""

from __future__ import annotations

import pytest
import torch

from mgd.decoding.processor import MGDLogitsProcessor
from mgd.monitors.calls import CallTrack, advance_calls
from mgd.monitors.python.arguments import ArgumentMonitor, parse_signature
from mgd.monitors.base import Document
from mgd.monitors.python.lexer import scan

RESTOCK = parse_signature("def restock(isbn: str, copies: int) -> None")


def test_parse_signature_kinds():
    f = parse_signature("def f(a, /, b=(1, 2), *c, d, e='x,y', **g) -> None")
    assert f.positional == ("a", "b") and f.keyword == {"b", "d", "e"} and f.required == {"a", "d"}
    assert f.var_positional and f.var_keyword
    assert parse_signature("def len(obj: Sized, /) -> int").keyword == frozenset()
    assert parse_signature("class Book(isbn: str, copies_on_shelf: int=0)").required == {"isbn"}
    assert parse_signature("no parens here") is None


def _read(text: str, sig=RESTOCK):
    """Feed `text` (what follows the call's `(`) and report whether a rule broke; also the tracks left."""
    calls, lex, broke = (CallTrack(sig),), scan("c.restock("), False
    for i, ch in enumerate(text):
        calls, bad = advance_calls(calls, lex, ch, text[i + 1 : i + 2])
        broke = broke or bad
        lex = lex.step(ch)
    return broke, calls


@pytest.mark.parametrize(
    "text,broken",
    [
        ("'x', 3)", False),
        ("'x', copies=3)", False),
        ("isbn='x', copies=f(1, 2))", False),
        ("'x', (3, 4)[0])", False),
        ("'x, y', 3)", False),
        ("*args)", False),  # unpacking: counts unknown, no judgement
        (")", True),  # closed before isbn and copies
        ("'x')", True),  # copies missing
        ("'x', 3, 4", True),  # no third argument can fit: it may not even start
        ("'x', 3, )", False),  # Python's trailing comma
        ("'x', 3,\n)", False),
        ("colour=1", True),  # no such keyword
        ("'x', isbn=", True),  # isbn has a value already
        ("'x', 3 == 3", False),
        ("x == 3, 4)", False),
    ],
)
def test_rules(text, broken):
    assert _read(text)[0] == broken


NO_PARAMETERS = parse_signature("def describe_loudly() -> str")
KEYWORD_ONLY = parse_signature("def shout(*, volume: int) -> None")


@pytest.mark.parametrize(
    "sig,text,broken",
    [
        (NO_PARAMETERS, ")", False),
        (NO_PARAMETERS, "  )", False),
        (NO_PARAMETERS, "p", True),  # `describe_loudly(penguin_name_to_str(...` could never close
        (NO_PARAMETERS, "1", True),
        (NO_PARAMETERS, "'", True),
        (KEYWORD_ONLY, "volume=3)", False),
        (KEYWORD_ONLY, "v", False),  # may become `volume=`
        (KEYWORD_ONLY, "volume=3, v", True),  # nothing left to name
    ],
)
def test_no_argument_starts_where_none_could_fit(sig, text, broken):
    assert _read(text, sig)[0] == broken


MAKE = parse_signature("def make(*, name: str, colour: str = 'red') -> None")


@pytest.mark.parametrize(
    "text,broken",
    [
        ("name='x', colour='y')", False),
        ("nam", False),  # may become `name=`
        ("colour ='y', name='x')", False),
        ("  # why\n    colour='y', name='x')", False),
        ("**opts)", False),  # unpacked: not judged
        ("nax", True),  # no keyword starts so
        ("'x'", True),  # a positional argument where none fits
        ("3", True),
        ("col =", True),  # a space after a name that is no keyword: only a broken rule could follow
        ("name.upper", True),
        ("name(", True),
        ("f'x'", True),
        ("name='x', n", True),  # `name` has its value
        ("name='x', c", False),
    ],
)
def test_a_keyword_only_argument_must_write_a_keyword_left(text, broken):
    assert _read(text, MAKE)[0] == broken


def test_positional_parameters_left_keep_names_free():
    assert _read("colour", RESTOCK)[0] is False  # a positional argument may be any name
    assert _read("'x', 3, colour", parse_signature("def f(a, b, **kw)"))[0] is False


@pytest.mark.parametrize("text", ["", "  ", "nam", "name", "name ", "name='x', ", "name='x', col"])
def test_keyword_tokens_by_index_are_the_tokens_that_break(tokenizer, text):
    from mgd.decoding.keyword_rules import KeywordNameTokens
    from mgd.decoding.token_index import token_index_for
    from mgd.monitors.calls import breaks

    table = token_index_for(tokenizer).token_bytes
    texts = [d.decode("utf-8", "replace") if d else "" for d in table]
    risky = {t for t, d in enumerate(table) if d and any(c in d for c in b"),=")}
    calls, lex = (CallTrack(MAKE),), scan("make(")
    for i, ch in enumerate(text):
        calls, _ = advance_calls(calls, lex, ch, text[i + 1 : i + 2])
        lex = lex.step(ch)
    by_index = set(KeywordNameTokens(table, risky).bans(calls, lex).tolist())
    by_scan = {t for t, d in enumerate(texts) if d and t not in risky and breaks(calls, lex, d)}
    assert by_index == by_scan and len(by_scan) > len(table) // 2


LABELS = (
    '"""Labels."""\n\n\ndef make_label(*, title: str, colour: str = "red", width: int = 40) -> str:\n'
    '    """A label."""\n    return title.center(width)\n\n\ndef shelf_label(name: str) -> str:\n    return make_label('
)


def test_real_model_names_a_keyword_only_argument(both_ways):
    unguided, guided = both_ways("labels.py", LABELS, "deref,args", max_new_tokens=16, stop_at_newline=False)
    label = parse_signature("def make_label(*, title: str, colour: str = 'red', width: int = 40) -> str")
    # the premise: greedy SmolLM2 passes a string by position, which make_label does not take
    assert _read(unguided.text, label)[0], unguided.text
    assert guided.text.split("=")[0].strip() in label.keyword, guided.text
    assert not _read(guided.text, label)[0], guided.text


def test_call_closes_and_leaves_no_track():
    assert _read("'x', 3)")[1] == ()


@pytest.fixture(scope="module")
def path(bookshop):
    return str(bookshop / "bookshop" / "calls.py")


HEAD = "from bookshop.models import Catalogue\n\ndef f(c: Catalogue):\n    c.restock"


def _masked(tokenizer, session, path, prefix, scores=None, one_line=False):
    proc = MGDLogitsProcessor(tokenizer, session, [ArgumentMonitor()])
    proc.one_line = one_line
    ids = tokenizer(prefix, add_special_tokens=False)["input_ids"]
    proc.add_prompt(ids, Document(path, prefix, "\n"))
    scores = torch.zeros(1, len(tokenizer)) if scores is None else scores
    out = proc(torch.tensor([ids]), scores)
    table = proc.index.token_bytes
    return {table[t] for t in torch.nonzero(out[0] == float("-inf")).flatten().tolist()}


def test_prompt_inside_a_call_with_the_real_server(tokenizer, session, path):
    assert b")" in _masked(tokenizer, session, path, HEAD + "(")
    assert b")" in _masked(tokenizer, session, path, HEAD + "('x'")
    banned = _masked(tokenizer, session, path, HEAD + "('x', 3")
    assert b")" not in banned and b"," not in banned
    banned = _masked(tokenizer, session, path, HEAD + "('x', 3, 4")
    assert b")" in banned and b"," in banned
    assert b"=" in _masked(tokenizer, session, path, HEAD + "(colour")
    assert b"=" not in _masked(tokenizer, session, path, HEAD + "(copies")
    assert b"=" in _masked(tokenizer, session, path, HEAD + "('x', isbn")


PENGUINS = (
    "def compute_ticket_price(age: int) -> int:\n    return age\n\n\n"
    "class Penguin:\n    def describe_loudly(self) -> str:\n        return 'squawk'\n\n\n"
    "def f(pingu: Penguin):\n    "
)


@pytest.mark.parametrize("call", ["pingu.describe_loudly(", "compute_ticket_price(7, "])
def test_a_call_that_takes_no_more_arguments_may_only_close(tokenizer, session, path, call):
    banned = _masked(tokenizer, session, path, PENGUINS + call)
    assert b")" not in banned and b" )" not in banned and b" " not in banned
    assert {b"1", b"p", b"pen", b"'", b"("} <= banned
    assert b"\n" not in banned  # the `)` may close the call on a line of its own
    # an inline completion ends at the line break: there it would leave the call open
    assert b"\n" in _masked(tokenizer, session, path, PENGUINS + call, one_line=True)


def test_paren_token_that_opens_and_closes_is_judged(tokenizer, session, path):
    banned = _masked(tokenizer, session, path, HEAD)
    assert b"()" in banned and b"(" not in banned


def test_unknown_callee_and_var_positional_are_free(tokenizer, session, path):
    assert b")" not in _masked(tokenizer, session, path, "def f():\n    undefined_thing(")
    assert b")" not in _masked(tokenizer, session, path, "def f():\n    print(")
    assert b"," not in _masked(tokenizer, session, path, "def f():\n    print(1, 2, 3")


def test_generation_keeps_calls_well_formed(tiny_model, tokenizer, session, path):
    from transformers import LogitsProcessorList

    prefix = HEAD + "("
    ids = tokenizer(prefix, add_special_tokens=False)["input_ids"]
    for seed in range(3):
        proc = MGDLogitsProcessor(tokenizer, session, [ArgumentMonitor()])
        proc.add_prompt(ids, Document(path, prefix, "\n"))
        torch.manual_seed(seed)
        out = tiny_model.generate(
            input_ids=torch.tensor([ids]), logits_processor=LogitsProcessorList([proc]), max_new_tokens=12,
            do_sample=True, temperature=1.5, pad_token_id=tokenizer.pad_token_id,
        )
        text = tokenizer.decode(out[0, len(ids):])
        assert not _read(text)[0], text


def test_real_model_does_not_close_a_call_early(both_ways):
    source = (
        '"""Selling books."""\n\nfrom bookshop.models import Book, Catalogue\n\n\n'
        "def add_copies(catalogue: Catalogue, isbn: str) -> None:\n    catalogue.restock("
    )
    unguided, guided = both_ways("copies_tool.py", source, "deref,args", max_new_tokens=24)
    # the premise: greedy SmolLM2 closes restock( with one argument of two
    broke, _ = _read(unguided.text)
    assert broke, unguided.text
    assert not _read(guided.text)[0], guided.text
    assert guided.server_queries >= 1


def test_real_model_closes_a_call_that_takes_nothing(both_ways):
    source = PENGUINS.replace("def f(pingu: Penguin):\n    ", "def shout(pingu: Penguin) -> str:\n    return pingu.describe_loudly(")
    unguided, guided = both_ways("penguins.py", source, "deref,args", max_new_tokens=16)
    assert not _read(guided.text, NO_PARAMETERS)[0], guided.text
    assert guided.text.lstrip().startswith(")"), (unguided.text, guided.text)


def test_a_comment_inside_a_call_is_no_argument():
    # `Query(transport=t, mode=True,  # why\n can=x, )` (claude-code-sdk): the comment once counted as a
    # positional argument, so `can=` was no keyword and the `,` after it was banned
    from mgd.monitors.calls import CallTrack, Signature, advance_calls
    from mgd.monitors.python.lexer import scan as scan_python

    sig = Signature(("transport", "mode", "can"), frozenset({"transport", "mode", "can"}), frozenset({"transport", "mode"}))
    text = "transport=t,\n    mode=True,  # always streaming (really)\n    can=x,\n)"
    calls, lex = (CallTrack(sig),), scan_python("f(")
    for i, ch in enumerate(text):
        calls, bad = advance_calls(calls, lex, ch, text[i + 1 : i + 2])
        assert not bad, text[: i + 1]
        lex = lex.step(ch)
    assert calls == ()  # closed, every rule kept


def test_a_class_from_outside_the_project_is_not_judged(tokenizer, session, path):
    # jedi's signature for `float(` is `class float()`: trusted, it banned every argument
    assert b"1" not in _masked(tokenizer, session, path, "def f(v):\n    return float(")
    assert b"x" not in _masked(tokenizer, session, path, "from fractions import Fraction\n\nFraction(")
    # a class of the project is read from its source, and judged
    assert b"1" in _masked(tokenizer, session, path, PENGUINS.replace("def f(pingu: Penguin):\n    ", "Penguin("))


def test_a_callee_read_from_jedis_own_stubs_is_not_judged(tokenizer, session, path):
    # jedi's typeshed of 2021 requires `length` and `byteorder`; both have defaults since Python 3.11
    assert b")" not in _masked(tokenizer, session, path, "def f(n: int):\n    return n.to_bytes(")
    assert b")" not in _masked(tokenizer, session, path, "def f(b: bytes):\n    return int.from_bytes(b")
    # a function of the project is still judged from its own header
    assert b")" in _masked(tokenizer, session, path, PENGUINS + "compute_ticket_price(")


def test_which_paths_jedi_reads_from_its_bundled_stubs():
    from mgd.monitors.python.arguments import _read_from_jedis_stubs

    assert _read_from_jedis_stubs("/usr/lib/python3.11/shutil.py")
    assert _read_from_jedis_stubs("/x/site-packages/jedi/third_party/typeshed/stdlib/3/builtins.pyi")
    assert _read_from_jedis_stubs("/venv/lib/python3.11/site-packages/requests/api.py")  # jedi bundles a stub
    assert not _read_from_jedis_stubs("/venv/lib/python3.11/site-packages/httpx/_api.py")  # read from its source
    assert not _read_from_jedis_stubs("/work/project/bookshop/models.py")


def test_an_empty_string_argument_still_lets_the_call_close():
    # `f(x, "")`: after `""` the scanner waits for a possible third quote; the `)` is code all the same
    # (it was read as string text, so the call stayed open for the rest of the file: smolagents)
    from mgd.decoding.call_rules import unclosed_calls

    sig = parse_signature("def f(a, b=None)")
    calls, lex = (CallTrack(sig),), scan("f(")
    for i, ch in enumerate('x, "")'):
        calls, bad = advance_calls(calls, lex, ch)
        assert not bad
        lex = lex.step(ch)
    assert calls == ()
    assert unclosed_calls('log(Panel(title="a" + (f" - {t}" if t else "")), level=1)\n', scan("")) == []


FORWARDING = (
    "class Failure(Exception):\n    def __init__(self, *args: object) -> None:\n        super().__init__(*args)\n\n\n"
    "def emit(*args: object):\n    return Exception(*args)\n\n\n"
)


@pytest.mark.parametrize("call", ["raise Failure(", "emit("])
def test_star_parameters_jedi_passes_on_are_no_constraint(tokenizer, session, path, call):
    # jedi reads `*args` handed on to a builtin as no parameters at all (`class Failure()`, `emit()`), which
    # banned every argument of openai-agents' `raise AgentsException(f"...")`; the callee's own header decides
    banned = _masked(tokenizer, session, path, FORWARDING + call)
    assert b"'" not in banned and b"1" not in banned and b"f" not in banned
    # a callee without star parameters is still judged: `compute_ticket_price(age)` takes one argument
    assert b"1" in _masked(tokenizer, session, path, PENGUINS.replace("def f(pingu: Penguin):\n    ", "compute_ticket_price(3, "))


def test_star_parameters_of_a_class_whose_bases_go_over_lines(tokenizer, session, path):
    # Black lays long bases out over lines; the `):` that ends them is no end of the class body
    text = FORWARDING.replace("class Failure(Exception):", "class Failure(\n    Exception,\n):") + "raise Failure("
    banned = _masked(tokenizer, session, path, text)
    assert b"'" not in banned and b"1" not in banned and b"f" not in banned


def test_a_signature_whose_definition_went_unanswered_is_no_constraint(tokenizer, session, path, monkeypatch):
    # without the callee's definition its own header cannot be checked against jedi's label: no guess
    monkeypatch.setattr(session, "definition", lambda *args, **kwargs: None)  # fault: the request timed out
    banned = _masked(tokenizer, session, path, FORWARDING + "emit(")
    assert b"'" not in banned and b"1" not in banned
    assert b"1" not in _masked(tokenizer, session, path, PENGUINS.replace("def f(pingu: Penguin):\n    ", "compute_ticket_price(3, "))


def test_a_dataclass_with_its_own_init_is_not_judged_by_its_fields(tokenizer, session, path):
    # google-genai: jedi gives a `@dataclass`'s fields even where the class writes its own `__init__`
    text = (
        "from dataclasses import dataclass\n\n\n@dataclass\nclass Fault:\n    message: str\n    code: int\n\n"
        "    def __init__(self, message: str) -> None:\n        self.message = message\n        self.code = 0\n\n\n"
        "raise Fault('x'"
    )
    assert b")" not in _masked(tokenizer, session, path, text)
