"""The `types` monitor on Python, with the real jedi-language-server and the real tokenizer, on a small project written here.

At `return b.` in a `-> bool` function the monitor drops the `-> None`
methods and lets an `-> int` method through only as a chain step or an
operand: the line may not end after `b.count()`.
"""

from __future__ import annotations

import re

import pytest
import torch

from mgd.decoding.processor import MGDLogitsProcessor
from mgd.lsp.session import LanguageServerSession
from mgd.monitors import monitors_by_name
from mgd.monitors.base import Document
from mgd.monitors.types import NO, VOID, TypesMonitor

from types_projects import python_depot

HEAD = "from depot.bay import Bay, Crate\n\n\n"


@pytest.fixture(scope="module")
def depot(tmp_path_factory):
    return python_depot(tmp_path_factory)


@pytest.fixture(scope="module")
def jedi(depot):
    with LanguageServerSession(depot) as running:
        yield running


@pytest.fixture(scope="module")
def path(depot) -> str:
    return str(depot / "depot" / "use.py")


def verdicts(jedi, path: str, text: str) -> dict[str, str]:
    judged = TypesMonitor().judge(jedi, Document(path, HEAD + text, "\n"), "")
    assert judged is not None, text
    return judged[1]


def allowed_after(
    tokenizer, session, path: str, text: str, written: str = "", spec: str = "deref,types", favour: bytes | None = None
) -> set[bytes]:
    """The tokens a processor with monitors `spec` lets through once `written` follows the prompt `HEAD + text`.

    Every token scores alike, or, with `favour`, that token far above all others (the rest are then unlikely).
    """
    processor = MGDLogitsProcessor(tokenizer, session, monitors_by_name(spec))
    prompt = tokenizer(HEAD + text, add_special_tokens=False)["input_ids"]
    more = tokenizer(written, add_special_tokens=False)["input_ids"] if written else []
    processor.add_prompt(prompt, Document(path, HEAD + text, "\n"))
    scores = torch.zeros(1, len(tokenizer))
    if favour is not None:
        scores[0, processor.index.token_bytes.index(favour)] = 100.0
    for step in range(len(more) + 1):
        out = processor(torch.tensor([prompt + more[:step]]), scores.clone())
    table = processor.index.token_bytes
    return {table[t] for t in torch.nonzero(out[0] > float("-inf")).flatten().tolist() if table[t]}


RETURN_BOOL = "def f(b: Bay) -> bool:\n    return b."


def test_a_bool_return_keeps_the_bool_member_and_drops_none_methods(jedi, path):
    found = verdicts(jedi, path, RETURN_BOOL)
    assert found["is_full"] != NO and found["is_full"] != VOID
    assert found["stack"] == VOID
    assert found["count"] == NO and found["first"] == NO
    # unannotated, Optional, attributes: unknown, so they fit
    assert found["label"] != NO and found["heaviest"] != NO and found["capacity"] != NO
    assert verdicts(jedi, path, "def f(b: Bay) -> bool: return b.")["stack"] == VOID


def test_a_bool_return_through_the_processor(tokenizer, jedi, path):
    at_dot = allowed_after(tokenizer, jedi, path, RETURN_BOOL)
    assert b"is" in at_dot and b"count" in at_dot and not any(t.startswith(b"stack") for t in at_dot)
    assert any(t.startswith(b"stack") for t in allowed_after(tokenizer, jedi, path, RETURN_BOOL, spec="deref"))
    ended = allowed_after(tokenizer, jedi, path, RETURN_BOOL, "count()")
    assert b"\n" not in ended and b"." in ended and b" >" in ended
    assert b"\n" in allowed_after(tokenizer, jedi, path, RETURN_BOOL, "count()", spec="deref")
    assert b"\n" in allowed_after(tokenizer, jedi, path, RETURN_BOOL, "count() > 0")
    assert b"\n" in allowed_after(tokenizer, jedi, path, RETURN_BOOL, "is_full()")


def test_the_numeric_tower_and_project_classes(jedi, path):
    as_int = verdicts(jedi, path, "def f(b: Bay) -> int:\n    if b:\n        return b.")
    assert as_int["is_full"] != NO and as_int["count"] != NO and as_int["first"] == NO
    as_float = verdicts(jedi, path, "def f(b: Bay):\n    total: float = b.")
    assert as_float["count"] != NO and as_float["stack"] == VOID
    as_crate = verdicts(jedi, path, "def f(b: Bay) -> Crate:\n    return b.")
    assert as_crate["first"] != NO and as_crate["count"] == NO and as_crate["is_full"] == NO


def test_a_protocol_is_structural_so_nothing_is_judged_against_it(jedi, path):
    found = verdicts(jedi, path, "def f(b: Bay) -> Weighed:\n    return b.")
    assert found["stack"] == VOID  # None fits no protocol with members
    assert found["first"] != NO and found["count"] != NO and found["is_full"] != NO


def test_a_condition_needs_a_value_of_any_type(jedi, path):
    found = verdicts(jedi, path, "def f(b: Bay):\n    if b.")
    assert found["stack"] == VOID and all(v != NO for v in found.values())


def test_unknown_places_and_types_leave_everything_open(jedi, path):
    monitor = TypesMonitor()
    for text in (
        "def f(b: Bay):\n    b.",  # a statement
        "def f(b: Bay):\n    return b.",  # no return annotation
        "def f(b: Bay) -> Optional[Crate]:\n    return b.",  # None fits
        "def f(b: Bay):\n    print(b.",  # an argument: the parameter may take None
        "def f(b):\n    x: int = b.",  # jedi knows nothing of b
        # narrowed by isinstance: deref is free (jedi's list mixes both types'), and so is `types`
        "def f(b: Bay | Crate) -> bool:\n    if not isinstance(b, Bay):\n        return False\n    return b.",
    ):
        assert monitor.allowed_names(jedi, Document(path, HEAD + text, "\n"), "") is None, text


YARD = "class Yard(Bay):\n    def unload(self) -> None:\n"


@pytest.mark.parametrize("checker", ["on", "off"])
def test_an_optional_attribute_is_no_receiver_until_the_function_names_it(jedi, path, checker, monkeypatch):
    monkeypatch.setenv("MGD_TYPE_CHECKER", checker)  # basedpyright beside jedi (`mgd.lsp.checker`), or jedi alone
    monitor = TypesMonitor()

    def may_be_none(body: str) -> bool | None:
        return monitor.optional_member(jedi, Document(path, HEAD + YARD, "\n"), body)

    assert may_be_none("        self.spare") is True  # declared `Optional[Crate]`, inherited
    assert may_be_none("        if self.spare:\n            self.spare") is False  # named before: may be narrowed
    assert may_be_none("        self.spare = Crate(1)\n        self.spare") is False
    # set to None in the line before, and nothing since could have changed it: None for sure
    assert may_be_none("        self.spare = None\n\n        self.spare") is True
    assert may_be_none("        self.spare = None\n        if self.crates:\n            self.spare") is True  # a branch within
    assert may_be_none("        self.spare = None\n        self.spare = Crate(1)\n        self.spare") is False  # named since
    assert may_be_none("        self.spare = None\n        self.count()\n        self.spare") is False  # its method may set it
    assert may_be_none("        self.spare = None\n        refill(self)\n        self.spare") is False  # so may what gets `self`
    assert may_be_none("        self.spare = None\n        self.crates.clear()\n        self.spare") is True  # another object's
    # set to None in another branch: jedi's rules cannot say it is still None; the checker's type is `Crate | None`
    branch = may_be_none("        if self.crates:\n            self.spare = None\n        self.spare")
    assert branch is (checker == "on")
    assert may_be_none("        self.crates") is False  # `list[Crate]`
    # a method: jedi has no annotated declaration to read; the checker knows a bound method is no None
    assert may_be_none("        self.count") is (False if checker == "on" else None)


def _dotted(tokens: set[bytes]) -> set[bytes]:
    """The tokens that go on with a member access, other than a dunder's start (None has `__class__`)."""
    return {t for t in tokens if re.match(rb"[A-Za-z0-9_]*\.", t) and not t.split(b".", 1)[1].startswith(b"__")}


def test_no_member_access_on_an_attribute_that_may_be_none(tokenizer, jedi, path):
    after = allowed_after(tokenizer, jedi, path, YARD + "        self.", "spare")
    assert not _dotted(after)  # `.`, `.get`, ...
    assert b" =" in after and b"\n" in after and b" is" in after
    assert b"." in allowed_after(tokenizer, jedi, path, YARD + "        self.", "spare", spec="deref")
    narrowed = YARD + "        if self.spare is not None:\n            self."
    assert b"." in allowed_after(tokenizer, jedi, path, narrowed, "spare")
    emptied = YARD + "        self.spare = None\n        self."
    assert not _dotted(allowed_after(tokenizer, jedi, path, emptied, "spare"))
    assert b"." in allowed_after(tokenizer, jedi, path, emptied, "spare", spec="deref")
    # a token that ends the name and goes on with a dot (`_.`) is judged alike; a quoted annotation too
    assert b"_." not in allowed_after(tokenizer, jedi, path, YARD + "        self.", "dock")
    assert b"_." in allowed_after(tokenizer, jedi, path, YARD + "        self.", "dock", spec="deref")


def test_banning_the_likely_dot_after_a_none_bans_the_unlikely_ones_too(tokenizer, jedi, path):
    # only `._` likely: banning it alone would let `.` (then `close`) through
    emptied = YARD + "        self.spare = None\n        self."
    assert not _dotted(allowed_after(tokenizer, jedi, path, emptied, "spare", favour=b"._"))
    assert b"." in allowed_after(tokenizer, jedi, path, emptied, "spare", spec="deref", favour=b"._")


def test_no_member_access_on_a_call_that_may_return_none(tokenizer, jedi, path):
    after_call = allowed_after(tokenizer, jedi, path, YARD + "        self.", "heaviest()")  # `-> Optional[Crate]`
    assert not {t for t in _dotted(after_call) if t.startswith(b".")} and b"\n" in after_call
    # `().` in one token, right after the name, and `).` closing the call: judged as the call
    assert b"()." not in allowed_after(tokenizer, jedi, path, YARD + "        self.", "heaviest")
    assert b"." in allowed_after(tokenizer, jedi, path, YARD + "        self.", "first()")  # `-> Crate`
    assert b"()." in allowed_after(tokenizer, jedi, path, YARD + "        self.", "first")
    assert b"." in allowed_after(tokenizer, jedi, path, YARD + "        self.", "heaviest()", spec="deref")
    assert b")." not in allowed_after(tokenizer, jedi, path, YARD + "        self.", "resize((3, 3)")  # `-> None`


ARGS = "deref,args,types"


def test_a_literal_argument_of_the_wrong_type_may_not_end(tokenizer, jedi, path):
    body = "def f(b: Bay):\n    b."
    assert b")" not in allowed_after(tokenizer, jedi, path, body, "stack(3", spec=ARGS)  # an int for a `Crate`
    assert b")" in allowed_after(tokenizer, jedi, path, body, "stack(3", spec="deref,args")
    assert b"," not in allowed_after(tokenizer, jedi, path, body, "resize(32", spec=ARGS)  # `tuple[int, int]`
    after_tuple = allowed_after(tokenizer, jedi, path, body, "resize((3, 3), 2", spec=ARGS)
    assert b")" in after_tuple  # an int for a `float`: fits
    assert b"." in allowed_after(tokenizer, jedi, path, body, "stack(3", spec=ARGS)  # `3.` may go on


def test_a_string_literal_argument_is_a_str_open_or_closed(tokenizer, jedi, path):
    body = "def f(b: Bay):\n    b."
    closed = allowed_after(tokenizer, jedi, path, body, 'stack("crate"', spec=ARGS)
    assert b")" not in closed and b"," not in closed and b"." in closed  # `"crate".upper()` is not judged
    still_open = allowed_after(tokenizer, jedi, path, body, 'stack("cra', spec=ARGS)
    # the vocabulary closes a string and ends the argument in one token: those are judged too
    assert b'")' not in still_open and b'",' not in still_open and b'"' in still_open and b"te" in still_open
    assert b'\')' not in allowed_after(tokenizer, jedi, path, body, "stack('", spec=ARGS)
    assert b")" in allowed_after(tokenizer, jedi, path, body, 'tag("crate"', spec=ARGS)
    assert b'")' in allowed_after(tokenizer, jedi, path, body, 'tag("cra', spec=ARGS)
    assert b")" in allowed_after(tokenizer, jedi, path, body, 'tag(f"{b}"', spec=ARGS)
    assert b")" not in allowed_after(tokenizer, jedi, path, body, 'tag(b"crate"', spec=ARGS)  # bytes for a `str`
    assert b")" in allowed_after(tokenizer, jedi, path, body, 'stack("crate"', spec="deref,args")


def test_a_keyword_arguments_value_is_judged_by_its_parameter(tokenizer, jedi, path, monkeypatch):
    monkeypatch.setenv("MGD_TYPE_CHECKER", "off")
    body = "def f(b: Bay, crate: Crate, n: int):\n    b."
    assert b")" not in allowed_after(tokenizer, jedi, path, body, 'tag("x", loud="yes"', spec=ARGS)
    assert b")" in allowed_after(tokenizer, jedi, path, body, 'tag("x", loud=True', spec=ARGS)
    assert b")" not in allowed_after(tokenizer, jedi, path, body, "tag(name=3", spec=ARGS)
    assert b")" not in allowed_after(tokenizer, jedi, path, body, "stack(crate=n", spec=ARGS)  # a name, by jedi
    assert b")" in allowed_after(tokenizer, jedi, path, body, "stack(crate=crate", spec=ARGS)
    assert b")" in allowed_after(tokenizer, jedi, path, body, "resize((3, 3), weight=2", spec=ARGS)  # an int for a float
    assert b")" not in allowed_after(tokenizer, jedi, path, body, "resize(size=2", spec=ARGS)


def test_a_parameter_of_the_wrong_type_may_not_end_an_argument_until_narrowed(tokenizer, jedi, path, monkeypatch):
    monkeypatch.setenv("MGD_TYPE_CHECKER", "off")  # jedi's rule alone (with the checker: `tests/test_type_checker.py`)
    header = "def f(b: Bay, crate: Crate, n: int):\n    "
    assert b")" not in allowed_after(tokenizer, jedi, path, header + "b.", "stack(n", spec=ARGS)
    assert b")" in allowed_after(tokenizer, jedi, path, header + "b.", "stack(crate", spec=ARGS)
    # named again, `n` may have been narrowed (an isinstance test, an assignment): not judged
    assert b")" in allowed_after(tokenizer, jedi, path, header + "if n:\n        b.", "stack(n", spec=ARGS)
    # a local is narrowed by its assignment: never judged by its annotation
    assert b")" in allowed_after(tokenizer, jedi, path, "def f(b: Bay):\n    k: int = 3\n    b.", "stack(k", spec=ARGS)


def test_an_explaining_guide_says_which_rule_banned_a_token_and_why(tokenizer, jedi, path):
    body = "def f(b: Bay):\n    b.stack(3"
    processor = MGDLogitsProcessor(tokenizer, jedi, monitors_by_name(ARGS))
    processor.guide.explain = True
    prompt = tokenizer(HEAD + body, add_special_tokens=False)["input_ids"]
    processor.add_prompt(prompt, Document(path, HEAD + body, "\n"))
    out = processor(torch.tensor([prompt]), torch.zeros(1, len(tokenizer)))
    close = processor.index.token_bytes.index(b")")
    explained = processor.guide.explained
    assert out[0, close] == float("-inf") and close in explained["arguments"]
    assert close not in explained["calls"] and close not in explained["chain"]
    assert explained["argument_verdicts"] == [{"argument": "3", "expected": "Crate", "given": "int", "by": "server"}]
    off = MGDLogitsProcessor(tokenizer, jedi, monitors_by_name(ARGS))
    off.add_prompt(prompt, Document(path, HEAD + body, "\n"))
    off(torch.tensor([prompt]), torch.zeros(1, len(tokenizer)))
    assert off.guide.explained == {}  # explaining is off unless asked for


def test_a_bare_return_may_not_end_where_a_value_is_declared(tokenizer, jedi, path):
    # fastapi-mcp: a handler annotated `-> Response` ended with a bare `return`
    def ends(text: str, written: str = "") -> bool:
        allowed = allowed_after(tokenizer, jedi, path, text, written, spec="deref,types")
        return b"\n" in allowed and b";" in allowed

    assert not ends("def f(b: Bay) -> Crate:\n    if b:\n        return")
    assert not ends("def f(b: Bay) -> int:\n    return", " None")
    assert not ends("def f(b: Bay) -> list[int]:\n    return")
    assert not ends('def f(b: Bay) -> "Crate":\n    return')
    assert b" b" in allowed_after(tokenizer, jedi, path, "def f(b: Bay) -> Crate:\n    return", spec="deref,types")
    assert ends("def f(b: Bay) -> Optional[Crate]:\n    return")
    assert ends("def f(b: Bay) -> Crate | None:\n    return")
    assert ends("def f(b: Bay) -> Iterator[Crate]:\n    yield b.first()\n    return")  # a generator
    assert ends("def f(b: Bay) -> T:\n    return")  # a type variable may be None
    assert ends("def f(b: Bay) -> MaybeCrate:\n    return")  # a plain name may alias an Optional
    assert not ends("def f(b: Bay) -> Fraction:\n    return")  # a closed standard-library class
    assert ends("def f(b: Bay) -> Decimal:\n    return")  # the project declares it twice, once a protocol
    assert ends("def f(b: Bay):\n    return")
    assert ends("def f(b: Bay) -> Crate:\n    def g() -> None:\n        return")  # the innermost function's
    assert b"\n" in allowed_after(tokenizer, jedi, path, "def f(b: Bay) -> Crate:\n    return", spec="deref")
