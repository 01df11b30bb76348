"""PragmaticCode without the network: CR with the real type checker, prompt choice, reports, bad input."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import textwrap

import pytest

from mgd.pragmaticcode.python.fetch import PackageBuild
from mgd.pragmaticcode.generation import function_end
from mgd.pragmaticcode.python.fetch import PackageSpec, parse_package_list
from mgd.pragmaticcode.report import merge, summarise, table
from mgd.pragmaticcode.dataset import Limits
from mgd.pragmaticcode.python.select import candidates, select
from mgd.pragmaticcode.python.check import compiles, new_errors, type_errors
from mgd.errors import InputError

MODELS = '''\
class Book:
    """A book on the shelf."""

    def __init__(self, title: str) -> None:
        self.title = title

    def shout(self) -> str:
        return self.title.upper()
'''

REPORT = '''\
from shop.models import Book

COUNT: int = "many"  # an error the original file already has


def describe(book: Book) -> str:
    words = book.shout()
    return words
'''


@pytest.fixture()
def shop(tmp_path) -> PackageBuild:
    """A two-module package checked against this interpreter's site-packages."""
    package = tmp_path / "shop"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "models.py").write_text(MODELS)
    (package / "report.py").write_text(REPORT)
    build = PackageBuild(PackageSpec("shop", "1.0"), tmp_path, tmp_path, pathlib.Path(sys.executable), ("shop",))
    build.configure_checker()
    return build


def _with_body(body: str) -> str:
    start = REPORT.index("book.") + len("book.")
    return REPORT[:start] + body + "\n"


def test_cr_ignores_errors_the_original_had_and_counts_a_new_attribute_error(shop):
    good = _with_body("shout()\n    return words")
    bad = _with_body("whisper()\n    return words")
    broken = _with_body("shout(\n    return words")
    original, ok, wrong, syntax = type_errors(shop, "shop/report.py", [REPORT, good, bad, broken])
    assert any("many" in message for _, message in original)  # the pre-existing error is seen...
    assert compiles(original, ok)  # ...and not held against a good body
    assert not compiles(original, wrong)
    assert [rule for rule, _ in new_errors(original, wrong)] == ["reportAttributeAccessIssue"]
    assert "whisper" in new_errors(original, wrong)[0][1]
    assert syntax is None and not compiles(original, syntax)
    assert not list((shop.root / "shop").glob("_mgd_check_*"))  # no variant left behind


def test_candidates_are_dots_in_function_bodies_directly_followed_by_the_name():
    text = textwrap.dedent(
        '''\
        import os.path

        @decorator.attr
        def f(x: typing.Any = os.sep) -> None:
            "doc. string"
            y = x.real  # comment. here
            return y . imag


        class C:
            def m(self):
                def inner():
                    return self.value
                return inner
        '''
    )
    found = [(c.function, c.name, text[c.dot : c.dot + 1 + len(c.name)]) for c in candidates(text)]
    assert found == [("f", "real", ".real"), ("C.m.inner", "value", ".value")]


def test_selection_keeps_only_names_defined_in_another_file(shop, session_for):
    session = session_for(shop.root)
    prompts = select(shop, session, Limits(per_package=10))
    ids = {p.next_identifier: p for p in prompts}
    # book.shout is defined in models.py; self.title inside models.py is local to that file.
    assert "shout" in ids and "title" not in ids and "upper" not in ids  # str.upper is standard library
    prompt = ids["shout"]
    assert prompt.definition == {"kind": "project", "file": "shop/models.py"}
    assert prompt.file == "shop/report.py" and prompt.function["name"] == "describe"
    text = (shop.root / prompt.file).read_text()
    assert text[: prompt.dot_offset + 1].endswith("book.")
    assert prompt.ground_truth(text) == "shout()\n    return words"
    assert prompt.ground_truth_identifiers == ["shout", "words"]


@pytest.fixture()
def session_for():
    from mgd.lsp.session import LanguageServerSession

    sessions = []

    def start(root):
        sessions.append(LanguageServerSession(root))
        sessions[-1].start()
        return sessions[-1]

    yield start
    for session in sessions:
        session.close()


@pytest.mark.parametrize(
    "text, indent, expected",
    [
        ("shout()\n    return words\n\n\ndef next_one():", 0, len("shout()\n    return words\n\n")),
        ("shout()\n    return words\n", 0, None),  # the next line has not started
        ("shout()\n\n    # still inside\n", 0, None),
        ("shout()\n        x = 1\n    def sibling(self):", 4, len("shout()\n        x = 1")),
    ],
)
def test_function_end_is_the_first_line_indented_no_deeper_than_def(text, indent, expected):
    assert function_end(text, indent) == expected


def test_package_lists_allow_comments_and_name_the_bad_line():
    assert parse_package_list("# header\nfoo==1.0  # why\n\nbar-baz==2.0rc1\n") == [
        PackageSpec("foo", "1.0"),
        PackageSpec("bar-baz", "2.0rc1"),
    ]
    with pytest.raises(InputError, match=r"list:2: expected name==version"):
        parse_package_list("foo==1\nbar>=2\n", "list")
    with pytest.raises(InputError, match="listed twice"):
        parse_package_list("foo==1\nFoo==2\n", "list")


def _record(prompt, mode, sample, cr, nim, ism, pm, kind="project"):
    return {
        "prompt_id": prompt, "mode": mode, "sample": sample, "cr": cr, "nim": nim, "ism": ism, "pm": pm,
        "stop": "function_end", "seconds": 1.0, "definition_kind": kind,
    }  # fmt: skip


def test_report_merges_shards_and_gives_score_at_1_and_at_k(tmp_path):
    shard1 = [
        _record("a", "unguided", 0, False, 0.0, 0.0, 0.2),
        _record("a", "unguided", 1, True, 1.0, 0.5, 0.4),
        _record("a", "guided", 0, True, 1.0, 1.0, 1.0),
        _record("a", "guided", 1, True, 1.0, 0.5, 0.6),
    ]
    shard2 = [
        _record("b", "unguided", 0, False, 0.0, 0.0, 0.0, "dependency"),
        _record("b", "unguided", 1, False, 0.0, 0.0, 0.0, "dependency"),
        _record("b", "guided", 0, False, 1.0, 0.25, 0.1, "dependency"),
        _record("b", "guided", 1, True, 0.0, 0.0, 0.0, "dependency"),
    ]
    paths = []
    for i, records in enumerate([shard1, shard2 + shard1[:1]], 1):  # the repeated sample counts once
        path = tmp_path / f"shard{i}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
        paths.append(str(path))
    summary = summarise(merge(paths))
    assert list(summary) == ["unguided", "guided"]
    # CR@1 = mean over prompts of the per-prompt mean: unguided (0.5 + 0) / 2, guided (1 + 0.5) / 2.
    assert summary["unguided"]["cr"] == 25.0 and summary["guided"]["cr"] == 75.0
    assert summary["unguided"]["at_2"]["cr"] == 50.0 and summary["guided"]["at_2"]["cr"] == 100.0
    assert summary["guided"]["ism"] == pytest.approx(100 * (0.75 + 0.125) / 2)
    assert summary["guided"]["by_definition"]["dependency"]["nim"] == 50.0
    rendered = table(summary)
    assert "CR@1" in rendered and "CR@2" in rendered and "75.00" in rendered

    result = subprocess.run(
        [sys.executable, "-m", "mgd", "pragmaticcode", "report", "--json", "--chart", str(tmp_path / "c.png"), *paths],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["guided"]["cr"] == 75.0 and printed["unguided"]["nim"] == 25.0
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_puts_two_engines_side_by_side(tmp_path):
    old = [_record("a", "unguided", 0, False, 0.0, 0.0, 0.0), _record("a", "guided", 0, True, 1.0, 1.0, 1.0)]
    new = [
        {**_record("a", "unguided", 0, True, 1.0, 1.0, 1.0), "engine": "llama.cpp"},
        {**_record("a", "guided", 0, True, 1.0, 1.0, 1.0), "engine": "llama.cpp"},
    ]
    paths = []
    for name, records in (("transformers", old), ("llama", new)):  # the same prompt and sample keys
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
        paths.append(str(path))
    summary = summarise(merge(paths))
    assert list(summary) == ["llama.cpp unguided", "llama.cpp guided", "transformers unguided", "transformers guided"]
    assert summary["transformers unguided"]["cr"] == 0.0 and summary["llama.cpp unguided"]["cr"] == 100.0
    assert summarise(merge(paths[:1])).keys() == {"unguided", "guided"}  # one engine: the rows are the modes


def test_report_without_chart_writes_nothing_beside_the_results(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    path = results / "run.jsonl"
    records = [_record("a", "unguided", 0, False, 0.0, 0.0, 0.2), _record("a", "guided", 0, True, 1.0, 1.0, 1.0)]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    for extra in ([], ["--json"]):
        result = subprocess.run(
            [sys.executable, "-m", "mgd", "pragmaticcode", "report", *extra, str(path)], capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
        assert "chart:" not in result.stdout
        assert sorted(p.name for p in results.iterdir()) == ["run.jsonl"], "report wrote into the results folder"
    assert "CR@1" in subprocess.run(
        [sys.executable, "-m", "mgd", "pragmaticcode", "report", str(path)], capture_output=True, text=True, timeout=120
    ).stdout


def _cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "mgd", *args], capture_output=True, text=True, timeout=timeout)


def _fails(result, code, *needles):
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr


def test_bad_input_gets_one_clear_message_and_a_nonzero_exit(tmp_path):
    _fails(_cli("pragmaticcode", "eval", "--dataset", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r.jsonl")), 2, "does not exist")
    _fails(_cli("pragmaticcode", "eval", "--shard", "3/2", "--out", str(tmp_path / "r.jsonl")), 2, "--shard '3/2'")
    _fails(_cli("pragmaticcode", "eval", "--shard", "two", "--out", str(tmp_path / "r.jsonl")), 2, "expected i/N")
    _fails(_cli("pragmaticcode", "eval", "--samples", "3", "--out", str(tmp_path / "r.jsonl")), 2, "--temperature")

    shipped = pathlib.Path(__file__).parents[1] / "pragmaticcode" / "data" / "prompts.jsonl"
    lines = shipped.read_text().splitlines()
    broken = tmp_path / "broken.jsonl"
    broken.write_text(lines[0] + "\n" + lines[1][: len(lines[1]) // 2] + "\n")
    _fails(_cli("pragmaticcode", "eval", "--dataset", str(broken), "--out", str(tmp_path / "r.jsonl")), 2, "broken.jsonl:2", "not valid JSON")
    missing_field = json.loads(lines[0])
    del missing_field["dot_offset"]
    broken.write_text(json.dumps(missing_field) + "\n")
    _fails(_cli("pragmaticcode", "eval", "--dataset", str(broken), "--out", str(tmp_path / "r.jsonl")), 2, "'dot_offset'")

    used = tmp_path / "used.jsonl"
    used.write_text(json.dumps(_record("a", "guided", 0, True, 1, 1, 1)) + "\n")
    _fails(_cli("pragmaticcode", "eval", "--limit", "1", "--out", str(used)), 2, "--resume")
    assert used.read_text().count("\n") == 1  # nothing the user had is lost

    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text("{not json}\n")
    _fails(_cli("pragmaticcode", "report", str(garbage)), 2, "garbage.jsonl:1")
    packages = tmp_path / "packages.txt"
    packages.write_text("requests>=2\n")
    _fails(_cli("pragmaticcode", "build", "--packages", str(packages), "--out", str(tmp_path / "d")), 2, "packages.txt:1")


def test_unknown_package_is_reported_and_skipped(tmp_path):
    packages = tmp_path / "packages.txt"
    packages.write_text("mgd-no-such-package-xyzzy==0.0.1\n")
    result = _cli("pragmaticcode", "build", "--packages", str(packages), "--out", str(tmp_path / "d"), "--work", str(tmp_path / "w"), timeout=300)
    _fails(result, 1, "skipped mgd-no-such-package-xyzzy==0.0.1", "could not download")
    report = json.loads((tmp_path / "d" / "build-report.json").read_text())
    assert report["prompts"] == 0 and "mgd-no-such-package-xyzzy==0.0.1" in report["skipped"]


def test_dotprompts_csv_input_is_checked_before_anything_runs(tmp_path):
    dataset = tmp_path / "dataset.csv"
    dataset.write_text("repo,classFileName,methodStartIdx,methodStopIdx,dot_idx\nowner/name,src/A.java,10,40,20\n")
    out = str(tmp_path / "r.jsonl")
    _fails(_cli("pragmaticcode", "eval", "--dataset", str(dataset), "--out", out), 2, "DotPrompts", "--repos")
    _fails(_cli("pragmaticcode", "eval", "--dataset", "java", "--repos", str(tmp_path), "--out", out), 2, "--repos goes with")
    _fails(_cli("pragmaticcode", "eval", "--dataset", str(dataset), "--repos", str(tmp_path / "nowhere"), "--out", out), 2, "is not a folder")
    result = _cli("pragmaticcode", "eval", "--dataset", str(dataset), "--repos", str(tmp_path), "--out", out)
    _fails(result, 2, "no prompt of", "1 rows missing repositories")
    assert not (tmp_path / "r.jsonl").exists()


def test_java_monitor_names_are_checked_against_java(tmp_path):
    result = _cli("pragmaticcode", "eval", "--dataset", "java", "--monitors", "deref,imports", "--limit", "1", "--out", str(tmp_path / "r.jsonl"))
    _fails(result, 2, "--monitors", "unknown monitor imports", "deref, args, enums, new")


def test_ground_truth_lengths_give_the_cap_that_fits_nine_in_ten():
    from mgd.pragmaticcode.lengths import cap_for, distribution, percentile

    lengths = list(range(1, 101))  # 1..100 tokens
    assert percentile(lengths, 0.5) == 50 and percentile(lengths, 0.9) == 90
    assert cap_for(lengths) == 90 and cap_for([300] * 10) == 256  # never above the ceiling
    summary = distribution(lengths)
    assert summary["fits"]["64"] == 64.0 and summary["fits"]["128"] == 100.0
    assert summary["cap_for_90_percent"] == 90 and summary["max"] == 100


def test_report_counts_capped_samples_and_cr_over_those_that_ended(tmp_path):
    from mgd.pragmaticcode.report import endings, truth_distribution

    records = [
        {**_record("a", "guided", 0, True, 1.0, 1.0, 1.0), "truth_tokens": 40},
        {**_record("b", "guided", 0, False, 1.0, 1.0, 1.0), "stop": "max_tokens", "truth_tokens": 300},
        {**_record("a", "unguided", 0, False, 0.0, 0.0, 0.0), "truth_tokens": 40},
        {**_record("b", "unguided", 0, False, 0.0, 0.0, 0.0), "truth_tokens": 300},
    ]
    summary = summarise(records)
    assert summary["guided"]["hit_cap"] == 1 and summary["guided"]["cr_ended_on_their_own"] == 100.0
    assert summary["unguided"]["hit_cap"] == 0 and summary["unguided"]["cr_ended_on_their_own"] == 0.0
    assert endings(summary)[1] == "guided: 1 of 2 samples hit the token cap; CR over the 1 that ended on their own: 100.00"
    assert truth_distribution(records)["prompts"] == 2  # one length per prompt, not per sample


def test_report_counts_the_type_errors_samples_added():
    from mgd.pragmaticcode.report import type_error_lines

    records = [
        {**_record("a", "unguided", 0, False, 0.0, 0.0, 0.0), "new_errors": ["ParameterMismatch: m(int) for (String)", "UndefinedMethod: x"]},
        {**_record("b", "unguided", 0, False, 0.0, 0.0, 0.0), "new_errors": ["ParameterMismatch: n", "TypeMismatch: t"]},
        {**_record("a", "guided", 0, False, 0.0, 0.0, 0.0), "new_errors": ["reportAttributeAccessIssue: a"]},
        _record("b", "guided", 0, True, 1.0, 1.0, 1.0),
    ]
    summary = summarise(records)
    assert summary["unguided"]["type_errors"] == {"ParameterMismatch": 2, "TypeMismatch": 1}  # UndefinedMethod: a name
    assert summary["guided"]["type_errors"] == {}
    assert type_error_lines(summary) == ["unguided: 3 type errors added (ParameterMismatch 2, TypeMismatch 1)", "guided: 0 type errors added"]


def test_report_warns_of_guided_samples_the_server_left_unanswered():
    from mgd.pragmaticcode.report import warnings

    records = [
        _record("a", "unguided", 0, True, 1.0, 1.0, 1.0),
        _record("b", "unguided", 0, True, 1.0, 1.0, 1.0),
        {**_record("a", "guided", 0, True, 1.0, 1.0, 1.0), "unanswered_queries": 2, "unguided_steps": 2},
        {**_record("b", "guided", 0, True, 1.0, 1.0, 1.0), "unanswered_queries": 0, "unguided_steps": 0},
    ]
    summary = summarise(records)
    assert summary["guided"]["unanswered"] == 1 and summary["unguided"]["unanswered"] == 0
    said = [w for w in warnings(summary) if "unanswered" in w]
    assert said == [
        "warning: in 1 guided samples the language server left queries unanswered (timeout, error or dead server); "
        "those steps went unguided"
    ]


def test_paper_protocol_report_gives_score_at_1_to_6_and_relative_gains(tmp_path):
    from mgd.pragmaticcode.protocol import RUNS, protocol_report, score_at_k_chart, summaries

    greedy, sampled = RUNS
    records = [
        _record("a", "unguided", 0, False, 0.0, 0.0, 0.0), _record("a", "guided", 0, True, 1.0, 1.0, 1.0),
        _record("b", "unguided", 0, True, 1.0, 1.0, 1.0), _record("b", "guided", 0, True, 1.0, 1.0, 1.0),
    ]  # fmt: skip
    greedy.path(tmp_path, "1/2").write_text("".join(json.dumps(r) + "\n" for r in records))
    # prompt a: unguided compiles in 1 of 6 samples, guided in 3 of 6; prompt b: 0 and 6
    cr = {("a", "unguided"): 1, ("a", "guided"): 3, ("b", "unguided"): 0, ("b", "guided"): 6}
    samples = [
        _record(p, mode, i, i < cr[p, mode], 1.0, 0.5, 0.5) for (p, mode) in cr for i in range(6)
    ]  # fmt: skip
    sampled.path(tmp_path, "1/1").write_text("".join(json.dumps(r) + "\n" for r in samples))
    found = summaries(tmp_path)
    at = found[sampled.name]["unguided"]["at_k"]
    # score@k of 0/1 values is pass@k: prompt a unguided 1 - C(5,k)/C(6,k) = k/6, prompt b 0
    assert [at[str(k)]["cr"] for k in range(2, 7)] == [pytest.approx(100 * k / 6 / 2, abs=0.01) for k in range(2, 7)]
    assert found[sampled.name]["guided"]["at_k"]["6"]["cr"] == 100.0
    report = protocol_report(found, "PragmaticCode-Py")
    assert "| CR@1 | 50.00 | 100.00 | +100.0% |" in report  # greedy: 1 of 2 prompts compile unguided, both guided
    assert "| CR | unguided | 8.33 | 16.67 | 25.00 | 33.33 | 41.67 | 50.00 |" in report
    assert "| CR | guided | 75.00 |" in report and "| paper, SantaCoder-1.1B (sampled) | +23.8% |" in report
    score_at_k_chart(found[sampled.name], tmp_path / "k.png", "test")
    assert (tmp_path / "k.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(InputError, match="holds no results"):
        summaries(tmp_path / "nothing")
