"""basedpyright beside jedi (`mgd.lsp.checker`): the checker's narrowed and inferred types in the `types` rules.

With the real basedpyright-langserver, jedi-language-server and tokenizer
on the small depot project: an argument that is a dotted name is judged by
the type the checker gives it there (`self._crate_ref`, a
`ReferenceType[Crate]`, is no `Crate`), a local by its narrowed type, and
an unannotated attribute the checker infers as `Crate | None` gets no `.`.
A checker that is missing or never answers costs a bounded wait and
leaves decoding as jedi alone would.
"""

from __future__ import annotations

import logging
import sys
import time

import pytest

from mgd.lsp.checker import TypeChecker, checker_for, hover_type
from mgd.lsp.session import LanguageServerSession
from mgd.monitors.base import Document
from mgd.monitors.python.checked import cannot_pass, parts
from mgd.monitors.types import TypesMonitor

from test_types_python import ARGS, HEAD, _dotted, allowed_after
from test_types_python import depot, jedi, path  # noqa: F401 - the same fixtures: the depot and jedi on it


LOADER = (
    "import weakref\n\n\n"
    "class Loader:\n"
    "    def __init__(self, bay: Bay, crate: Crate) -> None:\n"
    "        self._crate_ref = weakref.ref(crate)\n"
    "        self._crate = crate\n"
    "        self._bay = bay\n"
    "        self._spare = None\n\n"
    "    def refill(self) -> None:\n"
    "        self._spare = Crate(2)\n\n"
    "    def load(self) -> None:\n"
    "        print(self._spare)\n"
)


def test_the_checker_answers_narrowed_and_inferred_types(jedi, path):
    text = HEAD + LOADER + "        self._crate_ref"
    checker = checker_for(jedi)
    assert checker is not None
    assert checker.type_at(path, text + "\n", len(text)) == "ReferenceType[Crate]"  # no annotation: inferred
    narrowed = HEAD + "def f(thing: object):\n    if isinstance(thing, Crate):\n        thing"
    assert checker.type_at(path, narrowed + "\n", len(narrowed)) == "Crate"
    assert checker.type_at(path, narrowed + "\n", len(narrowed) - len("thing") - 4) is None  # on `if`: no value


def test_a_dotted_argument_of_the_wrong_type_may_not_end(tokenizer, jedi, path):
    body = LOADER + "        self._bay."
    assert b")" not in allowed_after(tokenizer, jedi, path, body, "stack(self._crate_ref", spec=ARGS)
    assert b")" in allowed_after(tokenizer, jedi, path, body, "stack(self._crate_ref", spec="deref,args")
    assert b")" in allowed_after(tokenizer, jedi, path, body, "stack(self._crate", spec=ARGS)  # a `Crate`
    # `Crate | None`: a condition may follow the call (`stack(b.spare) if b.spare else None`), so None is not judged
    assert b")" in allowed_after(tokenizer, jedi, path, "def f(b: Bay):\n    b.", "stack(b.spare", spec=ARGS)
    # the token that completes the name and ends the argument (`ref)`) is judged with the completed name
    assert not {t for t in allowed_after(tokenizer, jedi, path, body, "stack(self._crate_", spec=ARGS) if t.startswith(b"ref)")}


def test_a_local_is_judged_by_its_narrowed_type(tokenizer, jedi, path):
    header = "def f(b: Bay, thing: object):\n    "
    assert b")" not in allowed_after(tokenizer, jedi, path, header + "b.", "stack(thing", spec=ARGS)  # an `object`
    narrowed = header + "if isinstance(thing, Crate):\n        b."
    assert b")" in allowed_after(tokenizer, jedi, path, narrowed, "stack(thing", spec=ARGS)
    # jedi alone judges no local: `k: int = 3` holds an `int` for the checker
    assert b")" not in allowed_after(tokenizer, jedi, path, "def f(b: Bay):\n    k: int = 3\n    b.", "stack(k", spec=ARGS)


def test_an_inferred_optional_attribute_gets_no_member_access(tokenizer, jedi, path):
    body = LOADER + "        self."
    assert not _dotted(allowed_after(tokenizer, jedi, path, body, "_spare"))  # `Crate | None`, no annotation
    narrowed = LOADER + "        if self._spare is not None:\n            self."
    assert b"." in allowed_after(tokenizer, jedi, path, narrowed, "_spare")


def test_without_the_checker_jedi_alone_decides(tokenizer, jedi, path, monkeypatch):
    monkeypatch.setenv("MGD_TYPE_CHECKER", "off")
    assert b"." in allowed_after(tokenizer, jedi, path, LOADER + "        self.", "_spare")  # no annotation: jedi cannot say
    assert b")" in allowed_after(tokenizer, jedi, path, LOADER + "        self._bay.", "stack(self._crate_ref", spec=ARGS)
    assert TypesMonitor().checked_type(jedi, Document(path, HEAD, "\n"), "Crate") is None


def test_none_since_an_assignment_is_left_to_the_rules_that_know_calls_may_set_it(jedi, path):
    monitor = TypesMonitor()
    text = "    def again(self) -> None:\n        self._spare = None\n        self.refill()\n        self._spare"
    # the checker holds `None` across `self.refill()`, which sets it: not judged
    assert monitor.optional_member(jedi, Document(path, HEAD + LOADER, "\n"), text) is not True


@pytest.mark.parametrize(
    "printed,classes",
    [
        ("str | None", ["str", "None"]),
        ("ReferenceType[Agent]", ["ReferenceType"]),
        ("Literal['a', 'b']", [None]),
        ("Literal[3]", ["int"]),
        ("Literal[True]", ["bool"]),
        ("dict[str, int | None]", ["dict"]),
        ("Self@Loader", [None]),
        ("(x: int) -> str", [None]),
        ("list[Unknown]", ["list"]),  # a list, whatever its items
        ("CoroutineType[Any, Any, list[dict[str, Any] | None]]", ["CoroutineType"]),
        ("Callable[..., Any]", [None]),
        ("type[Crate]", ["type"]),
    ],
)
def test_printed_types_are_read_into_classes(printed, classes):
    assert parts(printed) == classes


def test_what_cannot_be_passed(depot):
    root = str(depot)
    assert cannot_pass("Crate", "ReferenceType[Crate]", root)  # a standard-library class: no project class
    assert cannot_pass("Crate", "ReferenceType[Crate] | None", root)  # one member that cannot: the union cannot
    # None is not judged: `f(x) if x is not None else ...` narrows it after the argument is written
    assert not cannot_pass("Crate", "Crate | None", root) and not cannot_pass("int", "None", root)
    assert not cannot_pass("Crate", "Crate", root)
    assert not cannot_pass("Weighed", "int", root)  # a Protocol: structural
    assert not cannot_pass("Crate", "MagicMock", root)  # `Any` among its bases: assignable to anything
    assert not cannot_pass("Crate", "Path", root)  # declared twice in the standard library: not known by name
    assert not cannot_pass("Crate", "SomethingElse", root)  # unknown
    # a closed standard-library class is a builtin only by its bases (py-key-value-aio: a missing `await`)
    assert cannot_pass("str", "CoroutineType[Any, Any, list[dict[str, Any] | None]]", root)
    assert cannot_pass("str", "list[dict[str, Any] | None]", root)
    assert not cannot_pass("dict", "OrderedDict[str, int]", root) and not cannot_pass("str", "StrEnum", root)
    assert not cannot_pass("bytes", "bytearray", root)  # promoted where the checker's promotions are on


def test_hover_answers_are_read():
    said = {"contents": {"kind": "markdown", "value": "```python\n(variable) _path: str | None\n```\n---\nA path."}}
    assert hover_type(said) == "str | None"
    assert hover_type({"contents": {"kind": "markdown", "value": "```python\n(class) Crate\n```"}}) == "type[Crate]"
    assert hover_type({"contents": {"kind": "plaintext", "value": "(method) def add(self) -> None"}}) == "function"
    assert hover_type({"contents": {"kind": "plaintext", "value": "(module) os"}}) is None
    # a member of an unknown receiver (a2a-sdk's `resp_proto.task`): unknown, not a function
    assert hover_type({"contents": {"kind": "plaintext", "value": "(function) task: Unknown"}}) == "Unknown"
    assert parts("Unknown") == [None]
    assert hover_type({"contents": "(parameter) n: int"}) == "n: int".split(": ")[1]
    assert hover_type(None) is None and hover_type({"contents": []}) is None


def test_a_missing_checker_is_given_up_with_one_warning(depot, caplog):
    checker = TypeChecker(depot, binary="/nonexistent/basedpyright-langserver")
    with caplog.at_level(logging.WARNING, logger="mgd"):
        assert checker.type_at(str(depot / "x.py"), "x = 1\nx", 7) is None
        assert checker.type_at(str(depot / "x.py"), "x = 1\nx", 7) is None
    assert checker.given_up and sum("type checker is not used" in r.message for r in caplog.records) == 1


def test_a_checker_that_never_answers_costs_a_bounded_wait(depot, tmp_path):
    silent = tmp_path / "silent-server"
    silent.write_text(f"#!{sys.executable}\nimport sys, time\nsys.stdin.read()\ntime.sleep(600)\n")
    silent.chmod(0o755)
    checker = TypeChecker(depot, binary=str(silent), start_timeout=2.0)
    started = time.monotonic()
    assert checker.type_at(str(depot / "x.py"), "x = 1\nx", 7) is None
    assert time.monotonic() - started < 10 and checker.given_up
    checker.close()


def test_a_question_does_not_wait_for_a_first_check_begun_in_the_background(depot):
    import concurrent.futures

    # fault: the server never finishes the file's first check (genai-prices' took 35 s under load)
    checker = TypeChecker(depot, request_timeout=3.0, first_timeout=20.0)
    try:
        warm = "def f(n: int):\n    n"
        assert checker.type_at(str(depot / "warm.py"), warm, len(warm)) == "int"  # started, and answering
        real = checker._client.request_async
        hung: list[concurrent.futures.Future] = []

        def hang_checks(method, params):
            if method != "textDocument/diagnostic":
                return real(method, params)
            hung.append(concurrent.futures.Future())
            return 0, hung[-1]

        checker._client.request_async = hang_checks
        path, text = str(depot / "slow.py"), "def g(s: str):\n    s"
        checker.prepare(path, text)
        started = time.monotonic()
        assert checker.type_at(path, text, len(text)) is None  # waits once, as long as a question would
        assert 2.5 < time.monotonic() - started < 5
        started = time.monotonic()
        assert checker.type_at(path, text, len(text)) is None
        assert time.monotonic() - started < 1, "a question waited for the background check again"
        hung[0].set_result({"items": []})  # the check ends: the file's questions are answered again
        assert checker.type_at(path, text, len(text)) == "str"
    finally:
        checker.close()


@pytest.fixture(scope="module")
def vendored(depot, tmp_path_factory):
    """jedi on the depot, with a pydantic model in an installed-like folder outside the project."""
    outside = tmp_path_factory.mktemp("site") / "vendorlib"
    outside.mkdir()
    (outside / "__init__.py").write_text("")
    (outside / "tickets.py").write_text("from pydantic import BaseModel\n\n\nclass Ticket(BaseModel):\n    id: int\n    note: str = ''\n")
    with LanguageServerSession(depot, extra_paths=[outside.parent]) as running:
        yield running


TICKET = "from vendorlib.tickets import Ticket\n\n\ndef f():\n    return Ticket(id=1, "


def test_a_pydantic_model_outside_the_project_gets_the_checkers_signature(tokenizer, vendored, path):
    # jedi gives `Ticket(**data)` for a model outside the project: not trusted, no keyword judged
    assert b"=" in allowed_after(tokenizer, vendored, path, TICKET, "colour", spec="deref,args")
    # with `types`, the checker's synthesised `__init__`: `(*, id: int, note: str = '')`
    assert b"=" not in allowed_after(tokenizer, vendored, path, TICKET, "colour", spec=ARGS)
    assert b"=" in allowed_after(tokenizer, vendored, path, TICKET, "note", spec=ARGS)


def test_the_standard_library_gets_the_checkers_signature(tokenizer, jedi, path):
    # jedi's stub says `to_bytes(length, byteorder, *, signed)`, all required but `signed`: the checker, reading
    # the typeshed of the Python the project runs on (3.11 here), gives both defaults
    assert b")" in allowed_after(tokenizer, jedi, path, "def f(n: int):\n    return n.to_bytes(", spec=ARGS)
    # and still judges the call: two positional parameters, then only `signed=` by keyword
    assert b")" not in allowed_after(tokenizer, jedi, path, "def f(n: int):\n    return n.to_bytes(1, 'big', 3", spec=ARGS)


def test_members_jedis_old_stubs_lack_are_added_from_the_checker(tokenizer, jedi, path):
    from mgd.monitors.dereference import DereferenceMonitor

    checker_for(jedi)  # `types` starts it; jedi's stubs of 2021 list no `cbrt` (3.11), `pairwise` or `bit_count` (3.10)
    for text, real in [("import math\nmath.", "cbrt"), ("import itertools\nitertools.", "pairwise"), ("(5).", "bit_count")]:
        allowed = DereferenceMonitor().allowed_names(jedi, Document(path, text, "\n"), "")
        assert allowed is not None and real in allowed, text
        assert "_T" not in allowed  # a type variable of the stubs is no member
    if sys.version_info < (3, 12):
        assert "sumprod" not in DereferenceMonitor().allowed_names(jedi, Document(path, "import math\nmath.", "\n"), "")
    # through the processor and the real tokenizer: the model may go on into `cbrt`
    assert b"rt" in allowed_after(tokenizer, jedi, path, "import math\n\n\ndef f(x):\n    return math.", "cb", spec="deref,types")


FAULT = (
    "from dataclasses import dataclass\n\n\n@dataclass(init=False)\nclass Fault:\n    message: str\n    code: int\n\n"
    "    def __init__(self, message: str) -> None:\n        self.message = message\n        self.code = 0\n\n\n"
)


def test_a_callee_jedi_reads_wrongly_gets_the_checkers_signature(tokenizer, jedi, path):
    # jedi gives the fields `(message, code)`; the class's own `__init__` takes one: jedi's is no constraint
    assert b"3" in allowed_after(tokenizer, jedi, path, FAULT + "raise Fault('x', ", spec="deref,args")
    # with `types`, the checker's `(message: str)`: no second argument (pydantic-graph's `EndMarker(value, stack)`)
    assert b"3" not in allowed_after(tokenizer, jedi, path, FAULT + "raise Fault('x', ", spec=ARGS)
    assert b")" in allowed_after(tokenizer, jedi, path, FAULT + "raise Fault('x'", spec=ARGS)


@pytest.mark.parametrize("spec, prepared", [("deref,types", True), ("deref", False)])
def test_a_new_documents_file_is_checked_before_a_step_asks(tokenizer, jedi, path, spec, prepared, monkeypatch):
    import pathlib

    from mgd.decoding.processor import MGDLogitsProcessor
    from mgd.monitors import monitors_by_name

    monkeypatch.setenv("MGD_PREFETCH", "on")
    checker = checker_for(jedi)
    fresh = pathlib.Path(path).with_name(f"fresh_{spec.replace(',', '_')}.py")
    uri = fresh.resolve().as_uri()
    text = HEAD + "def f(b: Bay) -> int:\n    return b."
    processor = MGDLogitsProcessor(tokenizer, jedi, monitors_by_name(spec))
    assert processor.guide.answers.prefetching
    processor.add_prompt(tokenizer(text, add_special_tokens=False)["input_ids"], Document(str(fresh), text, "\n"))
    deadline = time.monotonic() + (30 if prepared else 3)
    while uri not in checker._checked and time.monotonic() < deadline:
        time.sleep(0.1)
    assert (uri in checker._checked) is prepared  # `types` asks the checker: its first check starts at once
