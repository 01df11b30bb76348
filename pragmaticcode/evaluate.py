"""`mgd pragmaticcode eval`: generate at every prompt, guided and not, and score each sample."""

from __future__ import annotations

import hashlib
import logging
import os
import pathlib
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from typing import Iterator

import torch
from tqdm import tqdm

from mgd.errors import InputError
from mgd.monitors.base import Document
from mgd.pragmaticcode.errors import CheckerUnavailable, FetchError
from mgd.pragmaticcode.generation import complete_function, end_finder
from mgd.pragmaticcode.lengths import DEFAULT_MAX_NEW_TOKENS, token_count
from mgd.pragmaticcode.languages import eval_language
from mgd.pragmaticcode.lexers import identifiers
from mgd.pragmaticcode.metrics import identifier_sequence_match, next_identifier_match, prefix_match
from mgd.pragmaticcode.prompts import Prompt
from mgd.pragmaticcode.results import ResultWriter, read_results, sample_key

log = logging.getLogger("mgd")

MODES = ("unguided", "guided")
# Settings that must match between a run and its --resume.
_CONFIG_FIELDS = ("model", "engine", "samples", "temperature", "max_new_tokens", "monitors")


@dataclass(frozen=True)
class EvalConfig:
    """How to generate: which modes, how many samples at what temperature, with which model."""

    modes: tuple[str, ...] = MODES
    samples: int = 1
    temperature: float = 0.0
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    model: str | None = None
    monitors: str | None = None  # None: the language's default monitors
    engine: str = "transformers"  # resolved: "transformers" or "llama.cpp"

    def check(self) -> None:
        """Raise InputError for settings that cannot run."""
        unknown = [m for m in self.modes if m not in MODES]
        if unknown or not self.modes:
            raise InputError(f"--modes: unknown mode {','.join(unknown) or '(none)'} (choose from {', '.join(MODES)})")
        if self.samples < 1:
            raise InputError("--samples must be at least 1")
        if self.temperature < 0:
            raise InputError("--temperature must not be negative")
        if self.samples > 1 and self.temperature == 0:
            raise InputError("--samples above 1 needs --temperature above 0 (greedy samples would all be equal)")
        if self.max_new_tokens < 1:
            raise InputError("--max-new-tokens must be at least 1")

    def monitors_for(self, language: str) -> str:
        """The monitors guided mode runs for prompts of `language`."""
        from mgd.monitors import language as language_named

        return self.monitors or language_named(language).default_monitors

    def record_fields(self, language: str = "python") -> dict:
        """The settings stored in every record."""
        return {
            "model": self.model or "SmolLM2-135M-Instruct",
            "engine": self.engine,
            "samples": self.samples,
            "temperature": self.temperature,
            "max_new_tokens": self.max_new_tokens,
            "monitors": self.monitors_for(language),
        }


def parse_shard(spec: str) -> tuple[int, int]:
    """`i/N` with 1 <= i <= N into (i, N); InputError otherwise."""
    try:
        left, right = spec.split("/")
        index, count = int(left), int(right)
    except ValueError:
        raise InputError(f"--shard {spec!r}: expected i/N, such as 1/4") from None
    if count < 1 or not 1 <= index <= count:
        raise InputError(f"--shard {spec!r}: i must be between 1 and N")
    return index, count


def shard_prompts(prompts: list[Prompt], index: int, count: int) -> list[Prompt]:
    """The deterministic i-th of N slices: every N-th prompt, starting at the i-th."""
    return prompts[index - 1 :: count]


def _seed(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("\x00".join(parts).encode()).digest()[:4], "big")


def project_of(prompt: Prompt) -> str:
    """The project a prompt belongs to: one fetch, one language server."""
    return f"{prompt.package}=={prompt.version}"


FIRST_TOUCH_PATIENCE = 120.0  # seconds a project's fresh server may take over its first completion


class _Packages:
    """Fetched packages and their source files, loaded once; one language server at a time."""

    def __init__(self, work: pathlib.Path, repos: pathlib.Path | None = None) -> None:
        self.work, self.repos = work, repos
        self.builds: dict[str, object] = {}
        self.texts: dict[tuple[str, str], str] = {}
        self.session = None
        self.session_for: str | None = None

    def build(self, prompt: Prompt):
        key = project_of(prompt)
        found = self.builds.get(key)
        if found is None:
            try:
                found = eval_language(prompt.language).fetch(prompt, self.work, self.repos)
            except (FetchError, CheckerUnavailable) as err:  # the last: a Java project's compile check
                found = str(err)
            self.builds[key] = found
        if isinstance(found, str):
            raise FetchError(found)
        return found

    def text(self, prompt: Prompt, build) -> str:
        key = (prompt.package, prompt.file)
        if key not in self.texts:
            path = build.root / prompt.file
            data = path.read_bytes() if path.is_file() else b""
            if hashlib.sha256(data).hexdigest() != prompt.file_sha256:
                raise FetchError(f"{prompt.file} of {prompt.package}=={prompt.version} differs from the dataset's copy")
            self.texts[key] = data.decode("utf-8")
        return self.texts[key]

    def language_server(self, prompt: Prompt, build, document: Document, monitors: list):
        """The project's server, started (and its monitors warmed up at `document`) at its first prompt."""
        from mgd.lsp.session import ServerUnavailable

        key = project_of(prompt)
        if self.session_for != key:
            self.close()
            try:
                self.session = eval_language(prompt.language).language_server(build)
                self.session.start()
            except ServerUnavailable as err:
                log.warning("%s: language server unavailable (%s); guided samples run unguided", key, err)
                self.session = None
            else:
                # what a monitor asks once per server (Java's `new` sweep) is asked before any step waits for it,
                # so the samples measure guidance, not a first-use stall; its time is not a sample's
                started = time.perf_counter()
                # a fresh server's first answer can outlast a step's bound (JDT.LS on jline3's 6,000-line file, or a
                # loaded machine): asked patiently first, it is not taken for a hung server and restarted
                self.session.completions(
                    document.path, document.prefix + document.suffix, len(document.prefix), patience=FIRST_TOUCH_PATIENCE
                )
                for monitor in monitors:
                    try:
                        monitor.warm_up(self.session, document)
                    except Exception as err:  # a warm-up is an optimisation: the steps ask again, bounded
                        log.warning("%s: warming up %s failed (%s)", key, monitor.name, err)
                log.info("%s: monitors warmed up in %.1f s", key, time.perf_counter() - started)
            self.session_for = key
        return self.session

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
        self.session, self.session_for = None, None


def pending_modes(prompt: Prompt, config: EvalConfig, done: set[tuple]) -> list[str]:
    """The modes of `prompt` with a sample not yet in `done` (keys as `sample_key`)."""
    return [m for m in config.modes if any((prompt.id, m, s) not in done for s in range(config.samples))]


@dataclass(frozen=True)
class RunSettings:
    """What every prompt of a run shares: how to generate, where projects are fetched, the shard it records."""

    config: EvalConfig
    work: pathlib.Path
    repos: pathlib.Path | None = None  # a DotPrompts dataset's repositories
    shard: str = "1/1"


@dataclass
class PromptOutcome:
    """What evaluating one prompt gave: one record per new sample, or why the prompt was skipped."""

    prompt_id: str
    records: list[dict]
    skipped: str | None = None


class PromptRunner:
    """The model and monitors of a run: evaluates prompts one after another, a project's server kept between them."""

    def __init__(self, settings: RunSettings, languages: set[str]) -> None:
        from mgd.decoding.token_index import token_index_for
        from mgd.models import load_model

        config = settings.config
        self.config, self.shard = config, settings.shard
        self.monitors = _monitors(config, languages)
        self.model, self.tokenizer = load_model(config.model, config.engine)
        self.index = token_index_for(self.tokenizer)
        self.packages = _Packages(settings.work, settings.repos)
        self.originals: dict[tuple[str, str], object] = {}  # each file's problems before generation

    def run(self, prompts: list[Prompt], done: set[tuple]) -> Iterator[PromptOutcome]:
        """Generate and score every sample of `prompts` not in `done`, one outcome per prompt, in order."""
        # one checker thread: a prompt's samples are checked while the next prompt generates
        checker = ThreadPoolExecutor(1, thread_name_prefix="mgd-check")
        checking = None
        try:
            for prompt in prompts:
                try:
                    build = self.packages.build(prompt)
                    text = self.packages.text(prompt, build)
                except (FetchError, UnicodeDecodeError) as err:
                    skipped = PromptOutcome(prompt.id, [], str(err))
                else:
                    skipped = None
                    runs = self._generate(prompt, build, text, done)
                if checking is not None:
                    yield checking.result()
                    checking = None
                if skipped is not None:
                    yield skipped
                    continue
                checking = checker.submit(self._check, prompt, build, text, runs)
            if checking is not None:
                yield checking.result()
        finally:
            checker.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        """Stop the language server."""
        self.packages.close()

    def _generate(self, prompt: Prompt, build, text: str, done: set[tuple]) -> list[tuple[str, dict]]:
        config, monitors = self.config, self.monitors[prompt.language]
        document = Document(str(build.root / prompt.file), text[: prompt.dot_offset + 1], text[prompt.function["end"] :])
        runs: list[tuple[str, dict]] = []
        for mode in pending_modes(prompt, config, done):
            session = self.packages.language_server(prompt, build, document, monitors) if mode == "guided" else None
            masked = truth_masked(prompt, document, session, monitors) if session else None
            torch.manual_seed(_seed(prompt.id, mode))
            started = time.perf_counter()
            ends = end_finder(
                prompt.language, text[prompt.function["start"] : prompt.dot_offset + 1], prompt.function["indent"]
            )
            samples = complete_function(
                self.model, self.tokenizer, self.index, document, ends,
                session=session, monitors=monitors if session else None,
                samples=config.samples, temperature=config.temperature, max_new_tokens=config.max_new_tokens,
            )  # fmt: skip
            seconds = round((time.perf_counter() - started) / config.samples, 3)
            for number, run in enumerate(samples):
                if (prompt.id, mode, number) not in done:
                    runs.append((mode, {**run, "sample": number, "seconds": seconds, "truth_masked": masked}))
        return runs

    def _check(self, prompt: Prompt, build, text: str, runs: list[tuple[str, dict]]) -> PromptOutcome:
        originals, config = self.originals, self.config
        key = (prompt.package, prompt.file)
        start, end = prompt.dot_offset + 1, prompt.function["end"]
        variants = [text[:start] + run["text"] + text[end:] for _, run in runs]
        ask_original = key not in originals
        lang = eval_language(prompt.language)
        try:
            found = lang.problems(build, prompt.file, ([text] if ask_original else []) + variants)
            checker_error = None
        except CheckerUnavailable as err:
            found, checker_error = [None] * (len(variants) + ask_original), str(err)
        if ask_original:
            originals[key] = found.pop(0) or lang.no_problems()
        records = []
        for (mode, run), errors in zip(runs, found):
            extra = None
            if checker_error is None:
                extra = lang.new_problems(originals[key], errors)
            generated, truth = run["text"], prompt.ground_truth(text)
            first = identifiers(generated, prompt.language)
            records.append({
                "prompt_id": prompt.id,
                "package": prompt.package,
                "mode": mode,
                "sample": run["sample"],
                **config.record_fields(prompt.language),
                "language": prompt.language,
                "shard": self.shard,
                "definition_kind": prompt.definition.get("kind"),
                "completion": generated,
                "stop": run["stop"],
                "new_tokens": run["new_tokens"],
                "seconds": run["seconds"],
                "next_identifier": prompt.next_identifier,
                "generated_identifier": first[0] if first else None,
                "nim": next_identifier_match(generated, truth, prompt.language),
                "ism": identifier_sequence_match(generated, truth, prompt.language),
                "pm": prefix_match(generated, truth, prompt.language),
                "truth_tokens": token_count(self.tokenizer, truth),  # the rest of the function, in the model's tokens
                "cr": None if checker_error else (extra is not None and not extra),
                "syntax_error": checker_error is None and extra is None,
                "new_errors": [f"{rule}: {msg}" for rule, msg in (extra or [])][:5],
                "checker_error": checker_error,
                "truth_masked": run["truth_masked"],
                # problems the unchanged file has (unresolved dependencies, most often): CR there
                # counts only what the generation adds
                "original_errors": None if checker_error else _count(originals[key]),
                # declared dependencies of the project no jar was found for on this machine
                "unresolved_dependencies": len(getattr(build, "unresolved", ())),
                "constrained_steps": run["constrained_steps"],
                "server_queries": run["server_queries"],
                # the server did not answer (timeout, error, dead server): those steps went unguided, and a
                # table over such samples measures load, not guidance
                "unanswered_queries": run["unanswered_queries"],
                "unguided_steps": run["unguided_steps"],
            })  # fmt: skip
        return PromptOutcome(prompt.id, records)


def run_prompts(prompts: list[Prompt], done: set[tuple], settings: RunSettings) -> Iterator[PromptOutcome]:
    """Load the model and evaluate `prompts` in order (samples in `done` left out), one outcome per prompt."""
    runner = PromptRunner(settings, {p.language for p in prompts})
    try:
        yield from runner.run(prompts, done)
    finally:
        runner.close()


def _monitors(config: EvalConfig, languages: set[str]) -> dict[str, list]:
    """Each language's guided-mode monitors; InputError for a name the language does not know."""
    from mgd.monitors import monitors_by_name

    monitors = {}
    for language in sorted(languages):
        try:
            monitors[language] = monitors_by_name(config.monitors_for(language), language)
        except ValueError as err:
            raise InputError(f"--monitors: {err}") from None
    return monitors


def evaluate(
    prompts: list[Prompt],
    out: str | os.PathLike,
    config: EvalConfig,
    work: str | os.PathLike,
    resume: bool = False,
    shard: str = "1/1",
    repos: str | os.PathLike | None = None,
    ray: str | None = None,
) -> dict:
    """Run every pending (prompt, mode) of the list, appending one record per sample to `out`.

    `ray` None runs here; otherwise on Ray: "" starts a local Ray, else the address of a cluster to join.
    """
    config.check()
    out = pathlib.Path(out)
    done: set[tuple] = set()
    if out.exists() and out.stat().st_size > 0:
        if not resume:
            raise InputError(f"{out} already holds results: pass --resume to continue it, or choose another --out")
        records = read_results(out, repair=True)
        _check_same_config(records, config, out, prompts[0].language if prompts else "python")
        done = {sample_key(r) for r in records}
    elif out.parent and not out.parent.exists():
        raise InputError(f"the folder of {out} does not exist")
    languages = {p.language for p in prompts}
    _monitors(config, languages)  # a bad --monitors fails here, before a model loads or a cluster starts
    todo = [p for p in prompts if pending_modes(p, config, done)]
    summary = {
        "prompts": len(prompts), "already_done": len(prompts) - len(todo), "written": 0, "skipped": {},
        "unchecked": 0, "checker_error": None,  # samples whose compile or type check could not run, and why
    }  # fmt: skip
    if not todo:
        return summary
    repos = pathlib.Path(repos).resolve() if repos is not None else None
    settings = RunSettings(config, pathlib.Path(work).resolve(), repos, shard)
    if ray is None:
        outcomes = run_prompts(todo, done, settings)
    else:
        from mgd.pragmaticcode.ray_eval import connect, evaluate_on_ray

        # a cluster that cannot be reached fails here, in one line, before the progress bar shows
        outcomes = evaluate_on_ray(connect(ray), todo, done, settings)
    bar = tqdm(total=len(prompts), initial=summary["already_done"], desc="prompts", unit="prompt")
    with closing(outcomes), closing(ResultWriter(out)) as writer, bar:
        for outcome in outcomes:
            if outcome.skipped is not None:
                summary["skipped"][outcome.prompt_id] = outcome.skipped
                tqdm.write(f"mgd: skipped {outcome.prompt_id}: {outcome.skipped}")
            for record in outcome.records:
                if sample_key(record) in done:  # a rerun of a lost Ray task may send a sample again
                    continue
                writer.write(record)
                done.add(sample_key(record))
                summary["written"] += 1
                if record["checker_error"]:
                    summary["unchecked"] += 1
                    summary["checker_error"] = summary["checker_error"] or record["checker_error"]
            bar.update(1)
    return summary


def _count(problems) -> int:
    """How many problems a checker's answer holds (a list of diagnostics or a Counter of (kind, message))."""
    return sum(problems.values()) if isinstance(problems, Counter) else len(problems)


def truth_masked(prompt: Prompt, document: Document, session, monitors: list) -> bool | None:
    """Whether guidance at the prompt's own dot would mask the name the original code writes there.

    The same monitors and query as the decoder's first step (the prompt ends
    at the dot); None when they leave that step free, so nothing was masked.
    A True is a soundness bug unless the original itself does not compile.
    """
    from mgd.monitors import language as language_named
    from mgd.monitors.calls import CallMonitor
    from mgd.monitors.compose import allowed_together, fired_together

    name_monitors = [m for m in monitors if not isinstance(m, CallMonitor)]
    state = language_named(prompt.language).scan(document.prefix)
    fired = fired_together(name_monitors, state, document.prefix.rsplit("\n", 1)[-1])
    if fired is None:
        return None
    trigger, chosen = fired
    allowed, _open = allowed_together(chosen, session, document, trigger.at)
    if allowed is None:
        return None
    # a hidden name (a dunder, `mro`) is masked unless the model's first choice starts it: counted as masked
    return prompt.next_identifier not in allowed or prompt.next_identifier in getattr(allowed, "hidden", ())


def _check_same_config(records: list[dict], config: EvalConfig, out: pathlib.Path, language: str) -> None:
    wanted = config.record_fields(language)
    for record in records[:1]:
        for field in _CONFIG_FIELDS:
            # records from before engines were recorded all ran on transformers
            if record.get(field, "transformers" if field == "engine" else wanted[field]) != wanted[field]:
                raise InputError(
                    f"{out} was written with {field}={record[field]!r}, not {wanted[field]!r}: "
                    "resume with the same settings or choose another --out"
                )


def default_work() -> pathlib.Path:
    """Where fetched packages are kept by default ($MGD_CACHE_DIR/pragmaticcode or ~/.cache/mgd/pragmaticcode)."""
    from mgd.models import cache_root

    return cache_root() / "pragmaticcode"

