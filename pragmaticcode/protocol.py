"""The MGD paper's protocol: greedy, and n = 6 samples at temperature 0.8 scored at k = 1…6, beside the paper's figures."""

from __future__ import annotations

import pathlib
from dataclasses import dataclass

from mgd.errors import InputError
from mgd.pragmaticcode.report import LABELS, METRICS, merge, summarise

PAPER_SAMPLES = 6
PAPER_TEMPERATURE = 0.8

# The paper's headline table (REFERENCE.md §1; DotPrompts, Java, its own models):
# model -> (CR@1, CR@1 +MGD, NIM@1, NIM@1 +MGD, CR@6, CR@6 +MGD). Kept to compare relative gains only:
# the models and data differ from ours.
PAPER_FIGURES = {
    "CodeGen-350M": (35.72, 44.58, 68.89, 76.22, 52.43, 65.37),
    "CodeGen-6B": (44.19, 55.18, 74.53, 81.09, 58.64, 72.28),
    "SantaCoder-1.1B": (44.70, 55.34, 75.74, 82.30, 59.97, 73.03),
    "text-davinci-003": (51.71, 61.23, 80.76, 86.32, 62.66, 74.26),
}


@dataclass(frozen=True)
class ProtocolRun:
    """One decoding of the protocol: its name, samples per prompt and temperature."""

    name: str
    samples: int
    temperature: float

    def path(self, folder: pathlib.Path, shard: str) -> pathlib.Path:
        """Where this run's records of `shard` (i/N) go: one file per shard, so shards may run side by side."""
        index, count = shard.split("/")
        return folder / (f"{self.name}.jsonl" if count == "1" else f"{self.name}.shard{index}of{count}.jsonl")

    def files(self, folder: pathlib.Path) -> list[pathlib.Path]:
        """This run's results files in `folder`, every shard."""
        return sorted(folder.glob(f"{self.name}.jsonl")) + sorted(folder.glob(f"{self.name}.shard*.jsonl"))


RUNS = (ProtocolRun("greedy", 1, 0.0), ProtocolRun(f"sampled-n{PAPER_SAMPLES}", PAPER_SAMPLES, PAPER_TEMPERATURE))


def _gain(unguided: float | None, guided: float | None) -> str:
    """Guided over unguided as a relative change in percent (`-` when undefined)."""
    if unguided is None or guided is None or unguided == 0:
        return "-"
    return f"{100 * (guided - unguided) / unguided:+.1f}%"


def _value(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _modes(summary: dict) -> tuple[str, str]:
    """The unguided and guided rows of a summary of one engine; InputError if either is missing."""
    if set(summary) != {"unguided", "guided"}:
        raise InputError(f"the protocol's report needs one engine's unguided and guided rows, found {', '.join(summary)}")
    return "unguided", "guided"


def greedy_table(summary: dict) -> list[str]:
    """Markdown rows: each metric's score@1 unguided and guided, and the relative gain."""
    plain, guided = _modes(summary)
    lines = ["| metric | unguided | guided | relative gain |", "|---|---|---|---|"]
    for metric in METRICS:
        a, b = summary[plain][metric], summary[guided][metric]
        lines.append(f"| {LABELS[metric]}@1 | {_value(a)} | {_value(b)} | {_gain(a, b)} |")
    return lines


def score_at_k_rows(summary: dict) -> dict[str, dict[int, float | None]]:
    """Per `mode metric` (`guided CR`), score@k for k = 1…n."""
    rows: dict[str, dict[int, float | None]] = {}
    for mode, entry in summary.items():
        n = entry["samples_per_prompt"]
        for metric in METRICS:
            values = {1: entry[metric]}
            values.update({int(k): scores[metric] for k, scores in entry.get("at_k", {}).items()})
            rows[f"{mode} {LABELS[metric]}"] = {k: values.get(k) for k in range(1, n + 1)}
    return rows


def sampled_table(summary: dict) -> list[str]:
    """Markdown rows: score@1…n of every metric, unguided and guided, and the relative gain at each k."""
    plain, guided = _modes(summary)
    n = summary[guided]["samples_per_prompt"]
    rows = score_at_k_rows(summary)
    lines = ["| metric | mode | " + " | ".join(f"@{k}" for k in range(1, n + 1)) + " |", "|---|---|" + "---|" * n]
    for metric in METRICS:
        label = LABELS[metric]
        low, high = rows[f"{plain} {label}"], rows[f"{guided} {label}"]
        lines.append(f"| {label} | unguided | " + " | ".join(_value(low[k]) for k in low) + " |")
        lines.append(f"| {label} | guided | " + " | ".join(_value(high[k]) for k in high) + " |")
        lines.append(f"| {label} | gain | " + " | ".join(_gain(low[k], high[k]) for k in low) + " |")
    return lines


def paper_comparison(greedy: dict | None, sampled: dict | None) -> list[str]:
    """Markdown rows: the relative gains of CR@1, NIM@1 and CR@6 in the paper's table and here."""
    lines = ["| | CR@1 gain | NIM@1 gain | CR@6 gain |", "|---|---|---|---|"]
    for model, (cr, cr_g, nim, nim_g, cr6, cr6_g) in PAPER_FIGURES.items():
        lines.append(f"| paper, {model} (sampled) | {_gain(cr, cr_g)} | {_gain(nim, nim_g)} | {_gain(cr6, cr6_g)} |")
    if sampled is not None:
        at6 = {m: (sampled[m].get("at_k") or {}).get(str(PAPER_SAMPLES), {}).get("cr") for m in _modes(sampled)}
        lines.append(
            f"| here (sampled) | {_gain(sampled['unguided']['cr'], sampled['guided']['cr'])} "
            f"| {_gain(sampled['unguided']['nim'], sampled['guided']['nim'])} | {_gain(at6['unguided'], at6['guided'])} |"
        )
    if greedy is not None:
        lines.append(
            f"| here (greedy) | {_gain(greedy['unguided']['cr'], greedy['guided']['cr'])} "
            f"| {_gain(greedy['unguided']['nim'], greedy['guided']['nim'])} | - |"
        )
    return lines


def summaries(folder: pathlib.Path) -> dict[str, dict]:
    """Each protocol run's summary from the results in `folder` (runs with no results left out)."""
    found = {}
    for run in RUNS:
        files = run.files(folder)
        if files:
            found[run.name] = summarise(merge([str(f) for f in files]))
    if not found:
        raise InputError(f"{folder} holds no results of the protocol ({', '.join(r.name + '*.jsonl' for r in RUNS)})")
    return found


def protocol_report(found: dict[str, dict], title: str) -> str:
    """The protocol's tables as Markdown from its `summaries`: greedy, score@1…6 of the samples, the paper's gains beside."""
    greedy, sampled = found.get(RUNS[0].name), found.get(RUNS[1].name)
    out = [f"# {title}: the MGD paper's protocol", ""]
    if greedy is not None:
        out += [f"## Greedy ({greedy['guided']['prompts']} prompts)", "", *greedy_table(greedy), ""]
    if sampled is not None:
        entry = sampled["guided"]
        out += [
            f"## {entry['samples_per_prompt']} samples at temperature {PAPER_TEMPERATURE} "
            f"({entry['prompts']} prompts), score@k",
            "",
            *sampled_table(sampled),
            "",
        ]
    out += [
        "## Relative gains beside the paper's",
        "",
        "The paper's models and data (Java DotPrompts) differ from these; only the relative gains compare.",
        "",
        *paper_comparison(greedy, sampled),
        "",
    ]
    return "\n".join(out)


def score_at_k_chart(summary: dict, path: str | pathlib.Path, title: str) -> None:
    """score@k against k, one panel per metric, unguided and guided as two lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = score_at_k_rows(summary)
    fig, axes = plt.subplots(1, len(METRICS), figsize=(12, 3.4), dpi=120, sharex=True)
    for ax, metric in zip(axes, METRICS):
        for mode in summary:
            values = rows[f"{mode} {LABELS[metric]}"]
            ks = [k for k, v in values.items() if v is not None]
            ax.plot(ks, [values[k] for k in ks], marker="o", label=mode)
        ax.set_title(f"{LABELS[metric]}@k")
        ax.set_xlabel("k")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("score (%)")
    axes[0].legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
