"""Results of the few-shot benchmark: the table of runs, its summary, markdown and plot.

One row per (method, protocol, spc, seed) run, in ``results.csv``/``results.json`` under the
output directory, with ``results.md`` (macro-F1 mean +- standard deviation over seeds, %) and
``results.png`` (macro-F1 against training samples per class). A rerun merges into existing
results: rows with the same key are replaced, others kept.
"""

from __future__ import annotations

import json

import pandas as pd

#: Columns that identify a run; a new row with the same key replaces the old one.
KEY = ["method", "protocol", "spc", "seed"]
#: Every column of results.csv, in order.
COLUMNS = KEY + [
    "macro_f1",
    "accuracy",
    "fit_seconds",
    "predict_seconds",
    "n_train",
    "n_test",
    "n_unlabelled",
    "n_classes",
    "test_per_class",
    "data",
    "test_data",
]


def merge_results(path, new_rows):
    """Merge ``new_rows`` into the CSV at ``path`` (same key: new row wins); return the table."""
    new = pd.DataFrame(new_rows, columns=COLUMNS)
    if path.exists():
        old = pd.read_csv(path)
        table = pd.concat([old, new], ignore_index=True) if len(new) else old
    else:
        table = new
    table = table.drop_duplicates(subset=KEY, keep="last")
    # An empty test_data (no separate test file) reads back from CSV as NaN.
    table["test_data"] = table["test_data"].fillna("")
    return table.sort_values(KEY, kind="stable").reset_index(drop=True)


def summarise(table):
    """Mean and standard deviation (over seeds, ddof=1) of macro-F1 per method/protocol/spc."""
    grouped = table.groupby(["method", "protocol", "spc"], sort=True)
    summary = grouped.agg(
        n_seeds=("seed", "nunique"),
        macro_f1_mean=("macro_f1", "mean"),
        macro_f1_std=("macro_f1", "std"),
        fit_seconds_mean=("fit_seconds", "mean"),
        predict_seconds_mean=("predict_seconds", "mean"),
    )
    return summary.reset_index()


def markdown_table(summary):
    """Markdown table of macro-F1 (%) mean +- std: methods as rows, (protocol, spc) as columns."""
    columns = summary[["protocol", "spc"]].drop_duplicates().sort_values(["protocol", "spc"])
    header = ["method"] + [f"{p} · {s}" for p, s in columns.itertuples(index=False)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for method, rows in summary.groupby("method", sort=True):
        cells = [method]
        for protocol, spc in columns.itertuples(index=False):
            match = rows[(rows["protocol"] == protocol) & (rows["spc"] == spc)]
            cells.append(_format_score(match.iloc[0]) if len(match) else "")
        lines.append("| " + " | ".join(cells) + " |")
    note = (
        "\nMacro-F1 (%) over test objects, mean ± standard deviation over seeds "
        "(number of seeds in brackets when not 3). "
        "Columns: protocol · training samples per class."
    )
    return "\n".join(lines) + "\n" + note + "\n"


def _format_score(row):
    text = f"{100 * row.macro_f1_mean:.1f}"
    if row.n_seeds > 1:
        text += f" ± {100 * row.macro_f1_std:.1f}"
    if row.n_seeds != 3:
        text += f" ({row.n_seeds})"
    return text


def plot_results(summary, path):
    """Macro-F1 against samples per class (log x), one line per method, one panel per protocol."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    protocols = sorted(summary["protocol"].unique())
    methods = sorted(summary["method"].unique())
    # One colour per method, the same in every panel; tab20 keeps up to 20 apart.
    colours = dict(zip(methods, plt.get_cmap("tab20" if len(methods) > 10 else "tab10").colors))
    fig, axes = plt.subplots(
        1, len(protocols), figsize=(5 * len(protocols), 4), squeeze=False, sharey=True
    )
    for ax, protocol in zip(axes[0], protocols):
        part = summary[summary["protocol"] == protocol]
        for method, rows in part.groupby("method", sort=True):
            rows = rows.sort_values("spc")
            # Baselines dashed, so the methods that must beat them stand out.
            ax.errorbar(
                rows["spc"], 100 * rows["macro_f1_mean"],
                yerr=100 * rows["macro_f1_std"].fillna(0), marker="o", capsize=3, label=method,
                linestyle="--" if method.startswith("features") else "-",
                color=colours.get(method),
            )
        spcs = sorted(part["spc"].unique())
        ax.set_xscale("log")
        ax.set_xticks(spcs, [str(s) for s in spcs])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlim(spcs[0] / 1.5, spcs[-1] * 1.5)
        ax.set_xlabel("training samples per class")
        ax.set_title(protocol)
        ax.grid(True, alpha=0.3)
    axes[0][0].set_ylabel("macro-F1 (%)")
    # Beside the panels rather than on them, where it would hide the curves.
    entries = {}
    for ax in axes[0]:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    fig.legend(
        [entries[m] for m in methods if m in entries], [m for m in methods if m in entries],
        loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="small",
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def write_outputs(out_dir, table):
    """Write ``results.csv``, ``.json``, ``.md`` and ``.png`` for the merged ``table``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_dir / "results.csv", index=False)
    summary = summarise(table)
    payload = {
        "runs": json.loads(table.to_json(orient="records")),
        "summary": json.loads(summary.to_json(orient="records")),
    }
    (out_dir / "results.json").write_text(json.dumps(payload, indent=1) + "\n")
    (out_dir / "results.md").write_text(markdown_table(summary))
    plot_results(summary, out_dir / "results.png")


