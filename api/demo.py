"""`mgd demo`: unguided and guided completions side by side on the shipped example."""

from __future__ import annotations

import pathlib
import re
from dataclasses import dataclass

from mgd.completion import Completion, generate, resolve_cursor

EXAMPLE_REPO = pathlib.Path(__file__).resolve().parent.parent / "examples" / "bookshop"
EXAMPLE_FILE = "bookshop/report.py"
# Inside find_book(): `return catalogue.` where Catalogue is defined in models.py.
EXAMPLE_MARK = "    return catalogue."


def example_repo() -> pathlib.Path:
    """The bookshop example, from the source tree or the installed package."""
    if EXAMPLE_REPO.is_dir():
        return EXAMPLE_REPO
    from mgd import examples  # installed layout: mgd.examples

    return pathlib.Path(examples.__file__).parent / "bookshop"


def example_position(repo: pathlib.Path) -> tuple[int, int]:
    """1-based line and column just after the demo's dot."""
    lines = (repo / EXAMPLE_FILE).read_text(encoding="utf-8").split("\n")
    for number, text in enumerate(lines, start=1):
        if text.startswith(EXAMPLE_MARK):
            return number, len(EXAMPLE_MARK) + 1
    raise RuntimeError(f"demo mark {EXAMPLE_MARK!r} not found in {EXAMPLE_FILE}")


@dataclass
class DemoResult:
    """Both completions and, for each, whether its first name is a real member."""

    line: int
    column: int
    prompt_line: str
    members: list[str]
    unguided: Completion
    guided: Completion

    def first_name(self, completion: Completion) -> str:
        """The identifier the completion writes right after the dot."""
        match = re.match(r"[A-Za-z_]\w*", completion.text)
        return match.group(0) if match else ""

    def is_member(self, completion: Completion) -> bool:
        """True if the completion's first name is one the language server lists."""
        return self.first_name(completion) in self.members


def run_demo(model=None, tokenizer=None, max_new_tokens: int = 24, session=None) -> DemoResult:
    """Complete the example's dereference twice, without and with guidance."""
    from mgd.lsp.session import LanguageServerSession
    from mgd.monitors.dereference import member_names

    repo = example_repo()
    line, column = example_position(repo)
    cursor = resolve_cursor(repo, EXAMPLE_FILE, line, column)
    if model is None or isinstance(model, (str, pathlib.Path)):
        from mgd.models import load_model

        model, tokenizer = load_model(model)
    own = session is None
    session = session or LanguageServerSession(repo).__enter__()
    try:
        items = session.completions(cursor.path, cursor.prefix + cursor.suffix, len(cursor.prefix)) or []
        members = sorted(member_names(items))
        common = dict(model=model, tokenizer=tokenizer, max_new_tokens=max_new_tokens)
        unguided = generate(repo, EXAMPLE_FILE, line, column, guided=False, **common)
        guided = generate(repo, EXAMPLE_FILE, line, column, guided=True, session=session, **common)
    finally:
        if own:
            session.close()
    prompt_line = cursor.prefix.rsplit("\n", 1)[-1]
    return DemoResult(line, column, prompt_line, members, unguided, guided)
