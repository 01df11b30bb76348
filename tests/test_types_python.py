"""The `types` monitor on Python, with the real jedi-language-server and the real tokenizer, on a small project written here.

At `return b.` in a `-> bool` function the monitor drops the `-> None`
methods and lets an `-> int` method through only as a chain step or an
operand: the line may not end after `b.count()`.
"""

from __future__ import annotations

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


def allowed_after(tokenizer, session, path: str, text: str, written: str = "", spec: str = "deref,types") -> set[bytes]:
    """The tokens a processor with monitors `spec` lets through once `written` follows the prompt `HEAD + text`."""
    processor = MGDLogitsProcessor(tokenizer, session, monitors_by_name(spec))
    prompt = tokenizer(HEAD + text, add_special_tokens=False)["input_ids"]
    more = tokenizer(written, add_special_tokens=False)["input_ids"] if written else []
    processor.add_prompt(prompt, Document(path, HEAD + text, "\n"))
    for step in range(len(more) + 1):
        out = processor(torch.tensor([prompt + more[:step]]), torch.zeros(1, len(tokenizer)))
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
    ):
        assert monitor.allowed_names(jedi, Document(path, HEAD + text, "\n"), "") is None, text
