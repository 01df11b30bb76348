"""The `mgd` command line."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from mgd import __version__
from mgd.errors import InputError, MGDError

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2

_EPILOG = """exit status: 0 on success, 1 when the model or language server fails,
2 for bad input (paths, positions, options)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, usage exit code, no traceback
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = _Parser(
        prog="mgd",
        description="Monitor-guided decoding: a language server keeps a code model's member names real.",
        epilog=_EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"mgd {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what guidance does")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    complete = sub.add_parser("complete", help="complete the code at a cursor", epilog=_EPILOG)
    complete.add_argument("--repo", required=True, help="repository root (the language server's workspace)")
    complete.add_argument("--file", required=True, help="Python or Java file, relative to --repo or absolute inside it")
    complete.add_argument("--line", required=True, type=int, help="1-based line of the cursor")
    complete.add_argument("--column", required=True, type=int, help="1-based column of the cursor")
    complete.add_argument("--unguided", action="store_true", help="decode without the language server")
    complete.add_argument("--multiline", action="store_true", help="go on past the end of the line")
    complete.add_argument(
        "--monitors",
        default=None,
        help="comma-separated monitors to run; Python: deref, imports, classes, args, types; "
        "Java: deref, args, enums, new, types (default: all of the file's language)",
    )
    _model_options(complete, default_tokens=32)
    complete.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log what guidance does")

    demo = sub.add_parser("demo", help="unguided vs guided on the shipped example", epilog=_EPILOG)
    _model_options(demo, default_tokens=24)
    demo.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log what guidance does")

    serve = sub.add_parser(
        "serve",
        help="run a language server whose completions the model writes (LSP over stdio or TCP)",
        description="Serve guided completions to an editor: textDocument/inlineCompletion and textDocument/completion. "
        "Speaks LSP on stdin/stdout unless --tcp is given; logs go to stderr.",
    )
    serve.add_argument(
        "--tcp", metavar="HOST:PORT", help="listen on a TCP address instead of stdio (HOST defaults to 127.0.0.1)"
    )
    serve.add_argument("--model", help=_MODEL_HELP)
    engine_option(serve)
    serve.add_argument("--max-new-tokens", type=int, default=32, help="tokens per completion at most (default 32)")
    serve.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log to stderr")

    from mgd.pragmaticcode.cli import add_parser as add_pragmaticcode

    add_pragmaticcode(sub, _Parser)
    return parser


_MODEL_HELP = "Hugging Face causal LM directory, or a GGUF file for llama.cpp (default: embedded SmolLM2-135M-Instruct)"
_ENGINE_HELP = "inference engine (default: llama.cpp for a GGUF model when llama-cpp-python is installed, else transformers)"


def engine_option(parser: argparse.ArgumentParser) -> None:
    """Add `--engine transformers|llama.cpp` to a subcommand."""
    from mgd.engines import ENGINES

    parser.add_argument("--engine", choices=ENGINES, default=None, help=_ENGINE_HELP)


def _model_options(parser: argparse.ArgumentParser, default_tokens: int) -> None:
    parser.add_argument("--model", help=_MODEL_HELP)
    engine_option(parser)
    parser.add_argument(
        "--max-new-tokens", type=int, default=default_tokens, help=f"tokens to generate at most (default {default_tokens})"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object for programs")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    logging.getLogger("multilspy").setLevel(logging.WARNING if args.verbose else logging.CRITICAL)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        if getattr(args, "max_new_tokens", 1) < 1:
            raise InputError("--max-new-tokens must be at least 1")
        if args.command == "complete":
            return _complete(args)
        if args.command == "serve":
            return _serve(args)
        if args.command == "pragmaticcode":
            from mgd.pragmaticcode.cli import run

            return run(args)
        return _demo(args)
    except MGDError as err:
        print(f"mgd: error: {err}", file=sys.stderr)
        return EXIT_USAGE if isinstance(err, InputError) else EXIT_ERROR
    except KeyboardInterrupt:
        print("mgd: interrupted", file=sys.stderr)
        return 130


def _monitors(spec: str | None, language: str = "python"):
    from mgd.monitor_choice import monitors_named
    from mgd.monitors import language as language_named

    try:
        return monitors_named(spec if spec is not None else language_named(language).default_monitors, language)
    except ValueError as err:
        raise InputError(f"--monitors: {err}") from None


def _check_model_path(path: str | None, engine: str | None = None) -> str:
    """The engine to run `--model` on; fail on a path that is no model for it now, before a server starts for nothing."""
    import pathlib

    from mgd.engines import LLAMA_CPP, choose_engine
    from mgd.models import check_model_files

    chosen = choose_engine(engine, path)
    if chosen == LLAMA_CPP:
        from mgd.decoding.llama_engine import find_gguf

        if path is not None:
            try:
                find_gguf(path)
            except ValueError as err:
                raise MGDError(str(err)) from None
        return chosen
    if path is not None and not os.path.isdir(path):
        raise MGDError(f"model path {path} is not a directory")
    if path is not None:
        check_model_files(pathlib.Path(path))
    return chosen


def _complete(args) -> int:
    from mgd.completion import generate, resolve_cursor
    from mgd.monitors import language_of
    from mgd.startup import ready

    cursor = resolve_cursor(args.repo, args.file, args.line, args.column)  # bad input fails before the model loads
    language = language_of(str(cursor.path)) or "python"
    monitors = _monitors(args.monitors, language)
    engine = _check_model_path(args.model, args.engine)
    with _Warnings() as warnings, ready(args.model, cursor.repo, language, guided=not args.unguided, engine=engine) as started:
        completion = generate(
            args.repo,
            args.file,
            args.line,
            args.column,
            model=started.model,
            tokenizer=started.tokenizer,
            session=started.session,
            guided=not args.unguided,
            max_new_tokens=args.max_new_tokens,
            stop_at_newline=not args.multiline,
            monitors=monitors,
        )
    if args.json:
        record = _completion_record(completion)
        print(json.dumps({**record, "warnings": warnings.messages, "startup_seconds": started.startup_record()}))
    else:
        print(completion.text)
    return EXIT_OK


class _Warnings(logging.Handler):
    """Collects the warnings logged while it is entered (`--json` reports them; stderr still shows them)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def __enter__(self) -> "_Warnings":
        logging.getLogger("mgd").addHandler(self)
        return self

    def __exit__(self, *exc) -> None:
        logging.getLogger("mgd").removeHandler(self)


def _serve(args) -> int:
    from mgd.server.main import parse_address, serve
    from mgd.server.settings import Settings

    address = None
    if args.tcp is not None:
        try:
            address = parse_address(args.tcp)
        except ValueError as err:
            raise InputError(str(err)) from None
    _check_model_path(args.model, args.engine)
    # the engine as asked (None: the default for each `model` the editor sets)
    return serve(address, Settings(model=args.model, engine=args.engine, max_new_tokens=args.max_new_tokens))


def _completion_record(completion) -> dict:
    return {
        "completion": completion.text,
        "engine": completion.engine,
        "guided": completion.guided,  # asked for
        # what happened: did the server answer every query, and what went unconstrained because it did not
        "server_answered": completion.unanswered_queries == 0 if completion.guided else None,
        "new_tokens": completion.new_tokens,
        "constrained_steps": completion.constrained_steps,
        "server_queries": completion.server_queries,
        "prefetch_hits": completion.prefetch_hits,  # queries asked ahead of the step, used
        "prefetch_misses": completion.prefetch_misses,  # and asked ahead for nothing
        "unanswered_queries": completion.unanswered_queries,
        "unguided_steps": completion.unguided_steps,
        "seconds": round(completion.seconds, 3),
    }


def _demo(args) -> int:
    from mgd.demo import EXAMPLE_FILE, example_repo, run_demo
    from mgd.startup import ready

    engine = _check_model_path(args.model, args.engine)
    with _Warnings() as warnings, ready(args.model, example_repo(), "python", engine=engine) as started:
        result = run_demo(
            model=started.model, tokenizer=started.tokenizer, max_new_tokens=args.max_new_tokens, session=started.session
        )
    if args.json:
        print(
            json.dumps(
                {
                    "file": EXAMPLE_FILE,
                    "warnings": warnings.messages,
                    "startup_seconds": started.startup_record(),
                    "line": result.line,
                    "column": result.column,
                    "members": result.members,
                    "unguided": {**_completion_record(result.unguided), "first_name_is_member": result.is_member(result.unguided)},
                    "guided": {**_completion_record(result.guided), "first_name_is_member": result.is_member(result.guided)},
                }
            )
        )
        return EXIT_OK
    print(f"example: {EXAMPLE_FILE}, line {result.line}, column {result.column} (Catalogue is defined in bookshop/models.py)")
    print(f"members the language server lists: {', '.join(m for m in result.members if not m.startswith('__'))}")
    print()
    for label, completion in (("unguided", result.unguided), ("guided", result.guided)):
        name = result.first_name(completion)
        verdict = "a real member" if result.is_member(completion) else "NOT a member of Catalogue"
        print(f"{label:>9}: {result.prompt_line.strip()}{completion.text}")
        print(f"{'':>9}  {'':<{len(result.prompt_line.strip())}}^ {name!r} is {verdict}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
