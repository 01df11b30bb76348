"""The `mgd pragmaticcode` commands: build, eval, paper, lengths, report, truth."""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

from mgd.errors import InputError
from mgd.pragmaticcode.lengths import DEFAULT_MAX_NEW_TOKENS

DEFAULT_DATASET = pathlib.Path(__file__).parent / "data"
SHIPPED = {"python": DEFAULT_DATASET, "java": DEFAULT_DATASET / "java"}
_EPILOG = "exit status: 0 on success, 1 when something failed on the way (a package skipped, a tool missing), 2 for bad input."


def add_parser(sub, parser_class) -> None:
    """Add `pragmaticcode` and its subcommands to the main parser's subcommands."""
    top = sub.add_parser(
        "pragmaticcode",
        help="build and run the PragmaticCode evaluation (real Python and Java projects, the MGD paper's metrics)",
        description="PragmaticCode: prompts at dereferences in real PyPI packages (Python) and Debian source "
        "packages (Java), unguided vs guided; also reads the paper's DotPrompts dataset.csv.",
        epilog=_EPILOG,
    )
    commands = top.add_subparsers(dest="pc_command", metavar="COMMAND", parser_class=parser_class)

    build = commands.add_parser("build", help="fetch packages and choose prompts", epilog=_EPILOG)
    build.add_argument(
        "--packages", required=True,
        help="file of name==version lines (Python) or SOURCE=DEBIANVERSION lines (Java); # comments allowed",
    )  # fmt: skip
    build.add_argument("--language", choices=("python", "java"), default="python", help="default: python")
    build.add_argument("--out", required=True, help="dataset folder to write (prompts.jsonl, packages.txt, build-report.json)")
    build.add_argument("--work", help="where packages are fetched and installed (default: the mgd cache)")
    build.add_argument("--per-package", type=int, default=10, help="prompts per package at most (default 10)")
    build.add_argument("--per-function", type=int, default=10, help="prompts per function at most (default 10)")
    build.add_argument("--max-lines", type=int, default=15, help="longest rest of a function, in lines (default 15)")

    run = commands.add_parser("eval", help="generate at each prompt and score every sample", epilog=_EPILOG)
    _generation_options(run, out_help="results JSONL, appended one record per sample")
    run.add_argument("--samples", type=int, default=1, help="samples per prompt and mode, n (default 1)")
    run.add_argument("--temperature", type=float, default=0.0, help="sampling temperature; 0 is greedy (default)")
    run.add_argument("--modes", default="unguided,guided", help="comma-separated: unguided, guided (default both)")

    paper = commands.add_parser(
        "paper",
        help="the MGD paper's protocol: greedy and 6 samples at temperature 0.8, score@1…6, a Markdown report and charts",
        description="Runs greedy (n=1) and sampled (n=6, T=0.8) decoding, unguided and guided, into OUT/greedy*.jsonl "
        "and OUT/sampled-n6*.jsonl (one file per shard), then writes OUT/report.md (score@1…6 of every metric and the "
        "relative gains beside the paper's) and OUT/score-at-k.png. Shards, --resume and --ray work as for eval.",
        epilog=_EPILOG,
    )  # fmt: skip
    _generation_options(paper, out_help="folder for the results, report.md and the charts (made if missing)")
    paper.add_argument("--report-only", action="store_true", help="only write the report from the results in --out")

    from mgd.cli import engine_option

    lengths = commands.add_parser(
        "lengths", help="how long each prompt's ground truth is, in the model's tokens (to choose --max-new-tokens)",
        epilog=_EPILOG,
    )  # fmt: skip
    lengths.add_argument("--dataset", help="as for eval (default: python)")
    lengths.add_argument("--repos", help="for a DotPrompts dataset.csv: folder with one sub-folder per owner/name")
    lengths.add_argument("--model", help="the model whose tokens are counted (default: the embedded SmolLM2)")
    engine_option(lengths)
    lengths.add_argument("--work", help="where packages are fetched and installed (default: the mgd cache)")
    lengths.add_argument("--json", action="store_true", help="print the distribution as JSON")

    report = commands.add_parser("report", help="table (and with --chart a PNG chart) from results files (shards are merged)", epilog=_EPILOG)
    report.add_argument("results", nargs="+", help="results JSONL files")
    report.add_argument("--chart", help="PNG file to write the chart to (default: no chart, the table only)")
    report.add_argument("--json", action="store_true", help="print the numbers as JSON instead of the table")
    report.add_argument("--dataset", help="count only prompts of this dataset (as for eval)")
    report.add_argument("--repos", help="for a DotPrompts dataset.csv: folder with one sub-folder per owner/name")

    truth = commands.add_parser(
        "truth",
        help="feed each prompt's ground truth through the guide and list every token of it the guide bans (wrong masks)",
        description="Soundness check: the original rest of each function is fed to the guide a token at a time; "
        "a banned ground-truth token is a wrong mask. No model runs, only its tokenizer; the language servers are real.",
        epilog="exit status: 0 when nothing was banned, 1 when a ground-truth token was banned or a prompt could not "
        "be checked, 2 for bad input.",
    )  # fmt: skip
    truth.add_argument("--dataset", help="as for eval (default: python)")
    truth.add_argument("--repos", help="for a DotPrompts dataset.csv: folder with one sub-folder per owner/name")
    truth.add_argument("--shard", default="1/1", help="the i-th of N deterministic slices, as i/N (default 1/1)")
    truth.add_argument("--limit", type=int, help="only the first K prompts (of the shard)")
    truth.add_argument("--monitors", help="monitors to check (default: the language's default set)")
    truth.add_argument("--max-tokens", type=int, default=256, help="ground-truth tokens fed per prompt at most (default 256)")
    truth.add_argument("--work", help="where packages are fetched and installed (default: the mgd cache)")
    truth.add_argument("--json", action="store_true", help="print one JSON record per prompt instead of the summary")
    top.set_defaults(pc_parser=top)


def _generation_options(parser: argparse.ArgumentParser, out_help: str) -> None:
    """The options `eval` and `paper` share: what to run, where, on which model and engine."""
    from mgd.cli import engine_option

    parser.add_argument(
        "--dataset",
        help="dataset folder, prompts.jsonl, the paper's DotPrompts dataset.csv (with --repos), "
        "or `python`/`java` for a shipped dataset (default: python)",
    )
    parser.add_argument("--repos", help="for a DotPrompts dataset.csv: folder with one sub-folder per owner/name")
    parser.add_argument("--out", required=True, help=out_help)
    parser.add_argument(
        "--model", help="Hugging Face causal LM directory, or a GGUF file for llama.cpp (default: embedded SmolLM2-135M-Instruct)"
    )
    engine_option(parser)
    parser.add_argument(
        "--max-new-tokens", type=int, default=DEFAULT_MAX_NEW_TOKENS,
        help=f"token cap per sample (default {DEFAULT_MAX_NEW_TOKENS}: 90%% of both default datasets' ground truths fit)",
    )  # fmt: skip
    parser.add_argument("--limit", type=int, help="only the first K prompts (of the shard)")
    from mgd.monitors import LANGUAGES  # the registry says what each default set is, so the help cannot drift from it

    defaults = "; ".join(f"{lang.name.capitalize()} {lang.default_monitors}" for lang in LANGUAGES.values())
    parser.add_argument("--monitors", help=f"monitors for guided mode (default: the language's: {defaults})")
    parser.add_argument("--shard", default="1/1", help="run the i-th of N deterministic slices, as i/N (default 1/1)")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    parser.add_argument("--work", help="where packages are fetched and installed (default: the mgd cache)")
    parser.add_argument(
        "--ray", nargs="?", const="", metavar="ADDRESS",
        help="run on Ray, one task per project: on the cluster whose head is at ADDRESS (HOST:PORT), "
        "or without ADDRESS on a local Ray with one worker per core",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Run the chosen `pragmaticcode` subcommand; return the exit status."""
    if args.pc_command is None:
        args.pc_parser.print_help()
        return 2
    commands = {"build": _build, "eval": _eval, "paper": _paper, "lengths": _lengths, "report": _report, "truth": _truth}
    return commands[args.pc_command](args)


def _work(args) -> pathlib.Path:
    from mgd.pragmaticcode.evaluate import default_work

    # resolved once, here: a relative path must not be read against another folder later
    return pathlib.Path(args.work).resolve() if args.work else default_work()


def _build(args) -> int:
    from mgd.pragmaticcode.dataset import Limits

    for name in ("per_package", "per_function", "max_lines"):
        if getattr(args, name) < 1:
            raise InputError(f"--{name.replace('_', '-')} must be at least 1")
    limits = Limits(per_package=args.per_package, per_function=args.per_function, max_truth_lines=args.max_lines)
    if args.language == "java":
        from mgd.pragmaticcode.java.build import build_java_dataset

        report = build_java_dataset(args.packages, args.out, _work(args), limits)
    else:
        from mgd.pragmaticcode.python.build import build_dataset

        report = build_dataset(args.packages, args.out, _work(args), limits)
    total = sum(report.prompts.values())
    print(f"{total} prompts from {len(report.prompts)} packages in {args.out} ({report.seconds:.0f} s)")
    for spec, reason in report.skipped.items():
        print(f"skipped {spec}: {reason}", file=sys.stderr)
    return 1 if report.skipped or total == 0 else 0


def dataset_prompts_path(dataset: str | None) -> pathlib.Path:
    """The prompts file of a dataset folder or path (`python`/`java`: a shipped dataset; None: Python's)."""
    path = SHIPPED.get(dataset or "python") or pathlib.Path(dataset)
    if path.is_dir():
        path = path / "prompts.jsonl"
    if not path.exists():
        raise InputError(f"dataset {dataset}: {path} does not exist")
    return path


def load_prompts(dataset: str | None, repos: str | None) -> list:
    """The prompts of a dataset: a prompts file, or a DotPrompts CSV read against the repositories in `repos`."""
    from mgd.pragmaticcode.prompts import Prompt, read_prompts

    path = dataset_prompts_path(dataset)
    if path.suffix != ".csv":
        if repos is not None:
            raise InputError("--repos goes with a DotPrompts dataset.csv, not with a prompts file")
        return read_prompts(path)
    from mgd.pragmaticcode.java.dotprompts import dotprompts_summary, read_dotprompts, repos_folder

    if repos is None:
        raise InputError(f"{path} is a DotPrompts CSV: pass --repos, the folder holding its repositories")
    load = read_dotprompts(path, repos_folder(repos))
    print(f"mgd: DotPrompts: {dotprompts_summary(load)}", file=sys.stderr)
    if not load.prompts:
        raise InputError(f"no prompt of {path} could be read against the repositories in {repos}")
    return [Prompt(**record) for record in load.prompts]


def _eval(args) -> int:
    from mgd.pragmaticcode.evaluate import EvalConfig

    config = EvalConfig(
        modes=tuple(m.strip() for m in args.modes.split(",") if m.strip()),
        samples=args.samples,
        temperature=args.temperature,
        max_new_tokens=args.max_new_tokens,
        model=args.model,
        monitors=args.monitors,
        engine=_engine(args),
    )
    config.check()
    return _evaluate(args, config, _prompts(args), args.out)


def _engine(args) -> str:
    """The engine `--engine`/`--model` resolve to; InputError for a model path that engine cannot load."""
    from mgd.engines import LLAMA_CPP, choose_engine

    engine = choose_engine(args.engine, args.model)
    if args.model is not None and engine != LLAMA_CPP and not pathlib.Path(args.model).is_dir():
        raise InputError(f"--model {args.model} is not a directory")
    return engine


def _prompts(args) -> list:
    """The prompts of `--dataset`, sliced by `--shard` and `--limit`."""
    from mgd.pragmaticcode.evaluate import parse_shard, shard_prompts

    index, count = parse_shard(args.shard)
    if args.limit is not None and args.limit < 1:
        raise InputError("--limit must be at least 1")
    return shard_prompts(load_prompts(args.dataset, args.repos), index, count)[: args.limit]


def _evaluate(args, config, prompts: list, out) -> int:
    """Run `config` over `prompts` into `out` and say what was written; the exit status."""
    from mgd.pragmaticcode.evaluate import evaluate
    from mgd.pragmaticcode.java.dotprompts import repos_folder

    repos = repos_folder(args.repos)
    summary = evaluate(prompts, out, config, _work(args), resume=args.resume, shard=args.shard, repos=repos, ray=args.ray)
    print(
        f"{summary['written']} records written to {out}; {summary['already_done']} prompts were already done"
        + (f"; {len(summary['skipped'])} skipped" if summary["skipped"] else ""),
        file=sys.stderr,
    )
    if summary["unchecked"]:
        print(
            f"mgd: {summary['unchecked']} of {summary['written']} samples have no CR: the compile or type check "
            f"could not run ({summary['checker_error']})",
            file=sys.stderr,
        )
    return 1 if summary["skipped"] or summary["unchecked"] else 0


def _paper(args) -> int:
    from mgd.pragmaticcode.evaluate import EvalConfig
    from mgd.pragmaticcode.protocol import RUNS, protocol_report, score_at_k_chart, summaries

    folder = pathlib.Path(args.out)
    status = 0
    if not args.report_only:
        prompts = _prompts(args)
        configs = [
            EvalConfig(samples=run.samples, temperature=run.temperature, max_new_tokens=args.max_new_tokens,
                       model=args.model, monitors=args.monitors, engine=_engine(args))
            for run in RUNS
        ]  # fmt: skip
        for config in configs:
            config.check()
        folder.mkdir(parents=True, exist_ok=True)
        for run, config in zip(RUNS, configs):
            print(f"mgd: {run.name}: {run.samples} sample(s) per prompt and mode at temperature {run.temperature}", file=sys.stderr)
            status = max(status, _evaluate(args, config, prompts, run.path(folder, args.shard)))
    elif not folder.is_dir():
        raise InputError(f"--out {folder} is not a folder")
    title = {"python": "PragmaticCode-Py", "java": "PragmaticCode-Java"}.get(args.dataset or "python", str(args.dataset))
    found = summaries(folder)
    (folder / "report.md").write_text(protocol_report(found, title))
    sampled = found.get(RUNS[1].name)
    if sampled is not None:
        score_at_k_chart(sampled, folder / "score-at-k.png", f"{title}, {RUNS[1].samples} samples at T={RUNS[1].temperature}")
    print((folder / "report.md").read_text())
    return status


def _lengths(args) -> int:
    from mgd.models import load_model
    from mgd.pragmaticcode.java.dotprompts import repos_folder
    from mgd.pragmaticcode.lengths import describe, distribution, truth_lengths

    prompts = load_prompts(args.dataset, args.repos)
    _model, tokenizer = load_model(args.model, args.engine)
    repos = repos_folder(args.repos)
    found, skipped = truth_lengths(prompts, tokenizer, _work(args), pathlib.Path(repos) if repos else None)
    summary = {**distribution(found), "skipped": len(skipped)}
    for prompt_id, reason in skipped.items():
        print(f"mgd: skipped {prompt_id}: {reason}", file=sys.stderr)
    print(json.dumps(summary, indent=1) if args.json else describe(summary))
    return 1 if skipped else 0


def _report(args) -> int:
    from mgd.pragmaticcode.lengths import describe
    from mgd.pragmaticcode.report import chart, endings, merge, summarise, table, truth_distribution, type_error_lines, warnings

    records = merge(args.results)
    if args.dataset:
        wanted = {p.id for p in load_prompts(args.dataset, args.repos)}
        records = [r for r in records if r["prompt_id"] in wanted]
        if not records:
            raise InputError(f"no result belongs to a prompt of the dataset {args.dataset}")
    summary = summarise(records)
    path = pathlib.Path(args.chart) if args.chart else None  # only where the user said: never beside the results
    if path is not None:
        languages = sorted({r.get("language", "python") for r in records})
        chart(summary, path, title="PragmaticCode-" + "/".join({"python": "Py", "java": "Java"}[x] for x in languages))
    for warning in warnings(summary):
        print(f"mgd: {warning}", file=sys.stderr)
    truths = truth_distribution(records)
    if args.json:
        print(json.dumps({**summary, "ground_truth_tokens": truths} if truths else summary, indent=1))
    else:
        print(table(summary))
        print()
        print("\n".join(endings(summary)))
        print("\n".join(type_error_lines(summary)))
        if truths:
            print(describe(truths))
        if path is not None:
            print(f"\nchart: {path}")
    return 0


def _truth(args) -> int:
    from tqdm import tqdm

    from mgd.pragmaticcode.java.dotprompts import repos_folder
    from mgd.pragmaticcode.truth_check import check_truth

    if args.max_tokens < 1:
        raise InputError("--max-tokens must be at least 1")
    prompts = _prompts(args)
    checks = []
    for found in tqdm(check_truth(prompts, args.monitors, _work(args), repos_folder(args.repos), args.max_tokens),
                      total=len(prompts), desc="prompts", unit="prompt"):  # fmt: skip
        checks.append(found)
        if args.json:
            print(json.dumps(found.as_dict()), flush=True)
        for ban in found.banned:
            tqdm.write(f"mgd: {found.prompt_id}: ground-truth token {ban['token']!r} banned at step {ban['step']} "
                       f"after {ban['before'][-60:]!r} by {'+'.join(ban['rules']) or 'no rule the guide names'}",
                       file=sys.stderr)  # stdout holds only the --json records
        if found.skipped:
            tqdm.write(f"mgd: {found.prompt_id}: not checked: {found.skipped}", file=sys.stderr)
    banned = sum(len(c.banned) for c in checks)
    skipped = sum(1 for c in checks if c.skipped)
    if not args.json:
        print(
            f"{len(checks) - skipped} prompts checked, {sum(c.tokens for c in checks)} ground-truth tokens fed, "
            f"{sum(c.constrained_steps for c in checks)} steps constrained, {banned} ground-truth tokens banned "
            f"(in {sum(1 for c in checks if c.banned)} prompts), {sum(c.unanswered_queries for c in checks)} queries "
            f"unanswered; {skipped} prompts not checked"
        )
    return 1 if banned or skipped else 0
