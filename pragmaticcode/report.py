"""`mgd pragmaticcode report`: the paper-style table and chart from one or more results files."""

from __future__ import annotations

import pathlib
from collections import Counter, defaultdict

from mgd.errors import InputError
from mgd.pragmaticcode.metrics import score_at_k
from mgd.pragmaticcode.results import read_results, sample_key

METRICS = ("cr", "nim", "ism", "pm")
# The problems that say a value of the wrong type went somewhere (the `types` monitor's measure): ECJ's
# type and argument mismatches, basedpyright's argument, call, optional-member, return and assignment checks.
TYPE_ERRORS = frozenset({
    "TypeMismatch", "ParameterMismatch", "ReturnTypeMismatch", "InvalidOperator",
    "IncompatibleTypesInEqualityOperator", "IncompatibleTypesInConditionalOperator", "IncompatibleTypesInForeach",
    "reportArgumentType", "reportCallIssue", "reportOptionalMemberAccess", "reportReturnType", "reportAssignmentType",
})  # fmt: skip
LABELS = {"cr": "CR", "nim": "NIM", "ism": "ISM", "pm": "PM"}


def engine_of(record: dict) -> str:
    """The engine a record was decoded on (records from before engines were recorded: transformers)."""
    return record.get("engine") or "transformers"


def merge(paths: list[str]) -> list[dict]:
    """Records of several files (shards of one run, or runs on different engines); a sample written twice counts once."""
    seen, merged = set(), []
    for path in paths:
        for record in read_results(path):
            key = (*sample_key(record), engine_of(record))
            if key in seen:
                continue
            seen.add(key)
            merged.append(record)
    if not merged:
        raise InputError("the results files hold no records")
    return merged


def summarise(records: list[dict]) -> dict:
    """score@1 and score@k per mode over the prompts every mode has, in percent.

    Records of more than one engine are told apart: the rows are then
    `ENGINE MODE` (`llama.cpp guided`), over the prompts every row has.
    """
    by_mode: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    several = len({engine_of(r) for r in records}) > 1
    for record in records:
        label = f"{engine_of(record)} {record['mode']}" if several else record["mode"]
        by_mode[label][record["prompt_id"]].append(record)
    modes = sorted(by_mode, key=lambda m: (m.rsplit(" ", 1)[0] if several else "", not m.endswith("unguided"), m))
    common = set.intersection(*(set(by_mode[m]) for m in modes))
    if not common:
        raise InputError("no prompt has results in every mode")
    n = min(len(by_mode[m][p]) for m in modes for p in common)
    summary: dict = {}
    for mode in modes:
        prompts = [by_mode[mode][p] for p in sorted(common)]
        entry: dict = {"prompts": len(prompts), "samples_per_prompt": n, **_scores(prompts, 1, n)}
        if n > 1:
            entry[f"at_{n}"] = _scores(prompts, n, n)
            # every k from 2 to n, for the paper's score@1…n curves
            entry["at_k"] = {str(k): _scores(prompts, k, n) for k in range(2, n + 1)}
        flat = [r for samples in prompts for r in samples]
        entry["stops"] = dict(sorted(Counter(r["stop"] for r in flat).items()))
        entry["syntax_errors"] = sum(1 for r in flat if r.get("syntax_error"))
        # a sample cut at the token cap is scored as truncated code: CR also over those that ended on their own
        ended = [r for r in flat if r["stop"] != "max_tokens" and r.get("cr") is not None]
        entry["hit_cap"] = sum(1 for r in flat if r["stop"] == "max_tokens")
        entry["ended_on_their_own"] = len(ended)
        entry["cr_ended_on_their_own"] = round(100 * sum(bool(r["cr"]) for r in ended) / len(ended), 2) if ended else None
        entry["unchecked"] = sum(1 for r in flat if r.get("cr") is None)  # the compile or type check could not run
        # guidance at the prompt's dot left out the original's next name (a bug where the original compiles)
        entry["truth_masked"] = sum(1 for r in flat if r.get("truth_masked"))
        # guided samples where the server left queries unanswered (older records do not say)
        entry["unanswered"] = sum(1 for r in flat if (r.get("unanswered_queries") or 0) > 0)
        entry["original_errors"] = sum(1 for samples in prompts if (samples[0].get("original_errors") or 0) > 0)
        # of those, prompts whose project declares dependencies this machine has no jar for
        entry["unresolved_dependency_errors"] = sum(
            1 for samples in prompts
            if (samples[0].get("original_errors") or 0) > 0 and (samples[0].get("unresolved_dependencies") or 0) > 0
        )  # fmt: skip
        entry["type_errors"] = type_errors(flat)
        entry["mean_seconds"] = round(sum(r.get("seconds", 0) for r in flat) / len(flat), 3)
        kinds = sorted({s[0].get("definition_kind") for s in prompts} - {None})
        entry["by_definition"] = {}
        for kind in kinds:
            group = [s for s in prompts if s[0].get("definition_kind") == kind]
            entry["by_definition"][kind] = {"prompts": len(group), **_scores(group, 1, n)}
        summary[mode] = entry
    return summary


def _scores(prompts: list[list[dict]], k: int, n: int) -> dict:
    """Each metric's score@k in percent, averaged over prompts, from at most n known values per prompt."""
    scores = {}
    for metric in METRICS:
        values = []
        for samples in prompts:
            observed = [float(r[metric]) for r in samples if r[metric] is not None][:n]
            if len(observed) >= k:
                values.append(score_at_k(observed, k))
        scores[metric] = round(100 * sum(values) / len(values), 2) if values else None
    return scores


def type_errors(records: list[dict]) -> dict[str, int]:
    """How many type errors (`TYPE_ERRORS`) the samples in `records` added to their files, by kind, most first."""
    found = Counter(
        kind for r in records for problem in r.get("new_errors") or () if (kind := str(problem).split(":", 1)[0]) in TYPE_ERRORS
    )
    return dict(sorted(found.items(), key=lambda item: (-item[1], item[0])))


def type_error_lines(summary: dict) -> list[str]:
    """Per row: the type errors its samples added, in all and by kind."""
    said = []
    for mode, entry in summary.items():
        kinds = entry.get("type_errors") or {}
        detail = f" ({', '.join(f'{kind} {count}' for kind, count in kinds.items())})" if kinds else ""
        said.append(f"{mode}: {sum(kinds.values())} type errors added{detail}")
    return said


def truth_distribution(records: list[dict]) -> dict | None:
    """The ground-truth lengths (tokens) of the prompts in `records`, if the records carry them."""
    from mgd.pragmaticcode.lengths import distribution

    lengths = {r["prompt_id"]: r["truth_tokens"] for r in records if r.get("truth_tokens") is not None}
    return distribution(list(lengths.values())) if lengths else None


def endings(summary: dict) -> list[str]:
    """Per row: how many samples hit the token cap, and CR over those that ended on their own."""
    said = []
    for mode, entry in summary.items():
        total = entry["prompts"] * entry["samples_per_prompt"]
        cr = entry.get("cr_ended_on_their_own")
        over = f"CR over the {entry['ended_on_their_own']} that ended on their own: {cr:.2f}" if cr is not None else "none ended on its own"
        said.append(f"{mode}: {entry['hit_cap']} of {total} samples hit the token cap; {over}")
    return said


def warnings(summary: dict) -> list[str]:
    """What a reader of the table must know: samples with no CR (their check could not run), masked ground truths."""
    said = []
    unchecked = {mode: entry.get("unchecked", 0) for mode, entry in summary.items()}
    if any(unchecked.values()):
        counts = ", ".join(f"{unchecked[m]} of {summary[m]['prompts'] * summary[m]['samples_per_prompt']} {m}" for m in summary)
        said.append(f"warning: {counts} samples have no CR (the compile or type check could not run); CR is over the rest")
    first = next(iter(summary.values()))
    if first.get("original_errors"):
        missing = first.get("unresolved_dependency_errors", 0)
        why = f"{missing} of them in projects with dependencies not found on this machine" if missing else "none from a missing dependency"
        said.append(
            f"warning: the original file of {first['original_errors']} of {first['prompts']} prompts has errors of its "
            f"own ({why}); CR there counts only the errors a sample adds"
        )
    for mode, entry in summary.items():
        if entry.get("unanswered"):
            said.append(
                f"warning: in {entry['unanswered']} {mode} samples the language server left queries unanswered "
                "(timeout, error or dead server); those steps went unguided"
            )
        if entry.get("truth_masked"):
            said.append(f"warning: {entry['truth_masked']} {mode} samples had the original's next name masked at the prompt's dot")
    return said


def table(summary: dict) -> str:
    """The paper-style table: one row per mode, each metric at score@1 (and score@k for n > 1)."""
    modes = list(summary)
    n = summary[modes[0]]["samples_per_prompt"]
    columns = [f"{LABELS[m]}@1" for m in METRICS] + ([f"{LABELS[m]}@{n}" for m in METRICS] if n > 1 else [])
    rows = [["mode", "prompts", *columns]]
    for mode in modes:
        entry = summary[mode]
        values = [entry[m] for m in METRICS] + ([entry[f"at_{n}"][m] for m in METRICS] if n > 1 else [])
        rows.append([mode, str(entry["prompts"]), *("-" if v is None else f"{v:.2f}" for v in values)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths))) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def chart(summary: dict, path: str | pathlib.Path, title: str = "PragmaticCode-Py") -> None:
    """A grouped bar chart of the four metrics at score@1, one bar per mode."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modes = list(summary)
    width = 0.8 / len(modes)
    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    for i, mode in enumerate(modes):
        values = [summary[mode][m] or 0.0 for m in METRICS]
        xs = [j + (i - (len(modes) - 1) / 2) * width for j in range(len(METRICS))]
        bars = ax.bar(xs, values, width, label=f"{mode} ({summary[mode]['prompts']} prompts)")
        ax.bar_label(bars, fmt="%.1f", fontsize=8)
    ax.set_xticks(range(len(METRICS)), [f"{LABELS[m]}@1" for m in METRICS])
    ax.set_ylabel("score (%)")
    ax.set_ylim(0, 100)
    ax.set_title(f"{title}: unguided vs monitor-guided decoding")
    ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
