"""The corpus report: one self-contained HTML page (plots embedded as base64 PNG, inline CSS, no scripts, opens
offline) plus the same tables as Markdown and CSV, for one corpus or several side by side."""

import base64
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from statistics import mean
from typing import Any

from jinja2 import Environment
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from socialsim import __version__
from socialsim.corpus.atomic import check_output, write_atomic
from socialsim.corpus.audit import crisis_turns, prime_safety
from socialsim.corpus.dialogue import STRATEGIES, Dialogue
from socialsim.corpus.readers import merge_consecutive
from socialsim.evaluation.compare import Matched
from socialsim.evaluation.judge import DIMENSIONS, score_rows
from socialsim.evaluation.stats import (
    FEW,
    INTERVAL_NOTE,
    CorpusStats,
    corpus_stats,
    csv_text,
    markdown_table,
    markdown_text,
    matched,
    notes,
    strategy_rows,
    summary_rows,
    topic_rows,
)
from socialsim.safety import RISK_KINDS, default_detector

COLORS = ("#2f6db5", "#e07b39", "#3a9a5b", "#b5443b", "#7a5cb5")
SHOWN_DROPS = 20  # dropped dialogues listed per corpus (every one is in the drops file)


@dataclass
class Plot:
    key: str
    title: str
    caption: str
    png: bytes

    @property
    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode()


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


def _bars(ax: Any, labels: Sequence[str], series: dict[str, Sequence[float]], palette: dict[str, str],
          horizontal: bool = False, errors: dict[str, Sequence[tuple[float, float]]] | None = None) -> None:
    width = 0.8 / max(len(series), 1)
    for i, (name, values) in enumerate(series.items()):
        color = palette.get(name, COLORS[i % len(COLORS)])
        pos = [j + (i - (len(series) - 1) / 2) * width for j in range(len(labels))]
        err = None
        if errors and name in errors:
            err = [[v - lo for v, (lo, _) in zip(values, errors[name], strict=True)],
                   [hi - v for v, (_, hi) in zip(values, errors[name], strict=True)]]
        if horizontal:
            ax.barh(pos, values, height=width, label=name, color=color, xerr=err, capsize=3)
        else:
            ax.bar(pos, values, width=width, label=name, color=color, yerr=err, capsize=3)
    if horizontal:
        ax.set_yticks(range(len(labels)), labels)
        ax.invert_yaxis()
    else:
        ax.set_xticks(range(len(labels)), labels)
    ax.legend(frameon=False, fontsize=8)
    ax.grid(axis="x" if horizontal else "y", alpha=0.3)


@dataclass
class Series:
    """One corpus's line on a per-turn plot."""

    name: str
    label: str
    xs: list[float]
    ys: list[float]
    solid: list[bool]  # filled points (averaged over at least FEW dialogues); hollow otherwise
    dashed: bool = False  # known only before and after the dialogue (a survey), drawn as a dashed segment


def curve_series(stats: list[CorpusStats], kind: str) -> list[Series]:
    """The lines of the disclosure or intensity plot. Every point is kept, however few dialogues reach it; a
    corpus with intensity only from a before/after survey gets a dashed segment from the first seeker turn to its
    mean number of seeker turns."""
    out = []
    for s in stats:
        points, counts = getattr(s, kind), getattr(s, f"{kind}_n")
        if points:
            out.append(Series(s.name, s.label, list(points), list(points.values()),
                              [counts[k] >= FEW for k in points]))
        elif kind == "intensity" and s.survey_only and s.intensity_start_end:
            end = max(2.0, mean(s.per_dialogue["seeker"][1]))  # mean seeker utterances per dialogue
            out.append(Series(s.name, f"{s.label}: before / after survey", [1, end], list(s.intensity_start_end),
                              [True, True], dashed=True))
    return out


def _plot_series(ax: Any, series: list[Series], palette: dict[str, str]) -> None:
    for line in series:
        color = palette[line.name]
        if line.dashed:
            ax.plot(line.xs, line.ys, linestyle="--", marker="s", color=color, label=line.label)
            continue
        ax.plot(line.xs, line.ys, color=color, label=line.label)
        for filled in (True, False):
            pick = [i for i, solid in enumerate(line.solid) if solid == filled]
            if pick:
                ax.scatter([line.xs[i] for i in pick], [line.ys[i] for i in pick], zorder=3, s=28, color=color,
                           facecolors=color if filled else "white")


def figures(stats: list[CorpusStats], judged: dict[str, dict[str, Any]] | None,
            comparison: dict[str, Matched | None] | None = None) -> list[Plot]:
    out = []
    palette = {s.name: COLORS[i % len(COLORS)] for i, s in enumerate(stats)}
    fig = Figure(figsize=(8, 4.2))
    ax = fig.subplots()
    _bars(ax, STRATEGIES, {s.label: [100 * s.strategy_shares()[k] for k in STRATEGIES] for s in stats},
          {s.label: palette[s.name] for s in stats}, horizontal=True)
    ax.set_xlabel("% of supporter utterances")
    out.append(Plot("strategies", "Strategy distribution", "Share of supporter utterances per ESConv strategy "
                      "(utterances without a strategy are left out of the bars, see the table).", _png(fig)))

    fig = Figure(figsize=(11, 3.4))
    axes = fig.subplots(1, 3)
    top = max(max(s.turns, default=1) for s in stats)
    for i, s in enumerate(stats):
        if not s.dialogues:
            continue
        axes[0].hist(list(s.turns), weights=list(s.turns.values()), bins=range(0, top + 3, 2), histtype="step",
                     density=True, linewidth=1.8, color=COLORS[i % len(COLORS)], label=s.label)
        for ax, role in zip(axes[1:], ("seeker", "supporter"), strict=True):
            if not s.lengths[role]:
                continue
            ax.hist([min(x, 60) for x in s.lengths[role]], weights=list(s.lengths[role].values()),
                    bins=range(0, 62, 3), histtype="step", density=True, linewidth=1.8,
                    color=COLORS[i % len(COLORS)], label=s.label)
    for ax, title in zip(axes, ("speaker turns per dialogue", "words per seeker utterance",
                                "words per supporter utterance"), strict=True):
        ax.set_title(title, fontsize=10)
        ax.set_ylabel("density")
        ax.grid(alpha=0.3)
    axes[0].legend(frameon=False, fontsize=8)
    out.append(Plot("lengths", "Dialogue and utterance lengths", "Normalised histograms (each corpus sums to "
                      "1); utterances longer than 60 words are counted in the last bin.", _png(fig)))

    fig = Figure(figsize=(10, 3.4))
    labels = ["Distinct-1", "Distinct-2", "Distinct-3"]
    comparison = comparison or {}
    for ax, (role, attr) in zip(fig.subplots(1, 2), (("all", "distinct"), ("supporter", "distinct_supporter")),
                                strict=True):
        m = comparison.get(role)
        colors = {s.label: palette[s.name] for s in stats}
        if m is None:
            _bars(ax, labels, {s.label: [getattr(s, attr)[n] for n in (1, 2, 3)] for s in stats}, colors)
            ax.set_title(f"{role} utterances", fontsize=10)
        else:
            cells = {s.label: m.distinct[s.name] for s in stats}
            _bars(ax, labels, {k: [c[n].value for n in (1, 2, 3)] for k, c in cells.items()}, colors,
                  errors={k: [(c[n].value, c[n].value) if math.isnan(c[n].low) else (c[n].low, c[n].high)
                              for n in (1, 2, 3)] for k, c in cells.items()})
            ax.set_title(f"{role} utterances, samples of {m.tokens:,} tokens", fontsize=10)
        ax.set_ylabel("unique / all n-grams x100")
    matched_caption = ("Each corpus is sampled down to the token count of the smallest (whole utterances, 200 "
                       "random samples); bars are the mean, whiskers the 2.5-97.5 percentiles of the samples.")
    out.append(Plot("distinct", "Lexical diversity (Distinct-n)", "Distinct-n on lower-cased Treebank tokens. " + (
        matched_caption if any(comparison.values()) else "Whole corpus: it falls as a corpus grows, so compare "
        "corpora only at equal size (give several corpora to get size-matched samples)."), _png(fig)))

    series = curve_series(stats, "disclosure")
    if series:
        fig = Figure(figsize=(7, 3.4))
        ax = fig.subplots()
        _plot_series(ax, series, palette)
        ax.set(xlabel="seeker turn", ylabel="profile fields disclosed")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(frameon=False, fontsize=8)
        missing = [s.name for s in stats if s.dialogues and not s.disclosure]
        out.append(Plot("disclosure", "Disclosure curve", "Mean number of profile fields the seeker has disclosed "
                        f"by each of its turns; hollow points average fewer than {FEW} dialogues." + (
                            f" No disclosure is recorded in: {', '.join(missing)}." if missing else ""), _png(fig)))

    series = curve_series(stats, "intensity")
    if series:
        fig = Figure(figsize=(7, 3.4))
        ax = fig.subplots()
        _plot_series(ax, series, palette)
        ax.set(xlabel="seeker turn", ylabel="emotion intensity (1-5)", ylim=(0.9, 5.1))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(frameon=False, fontsize=8)
        survey = [line.name for line in series if line.dashed]
        out.append(Plot("intensity", "Emotion-intensity trajectory", "Mean seeker emotion intensity per seeker turn; "
                        f"hollow points average fewer than {FEW} dialogues." + (
                            f" {', '.join(survey)}: intensity recorded only before and after the conversation "
                            "(dashed, from the first seeker turn to the corpus's mean number of seeker turns)."
                            if survey else ""), _png(fig)))

    judged = {name: summary for name, summary in (judged or {}).items() if summary["judged"]}
    if judged:
        fig = Figure(figsize=(9, 3.6))
        ax = fig.subplots()
        dims = [*DIMENSIONS, "overall"]

        def cell(summary: dict[str, Any], d: str) -> Any:
            return summary["overall"] if d == "overall" else summary["dimensions"][d]

        _bars(ax, [d.replace("_", "\n") for d in dims],
              {n: [cell(s, d).value for d in dims] for n, s in judged.items()}, palette,
              errors={n: [(cell(s, d).low, cell(s, d).high) for d in dims] for n, s in judged.items()})
        ax.set(ylabel="mean score (1-5)", ylim=(1, 5.3))
        ax.tick_params(axis="x", labelsize=8)
        out.append(Plot("judge", "LLM-judge scores", "Mean 1-5 score per rubric dimension with 95% bootstrap "
                          "intervals over the judged dialogues.", _png(fig)))
    return out


def safety_rows(corpora: dict[str, Sequence[Dialogue]]) -> list[list[str]]:
    """Dialogues the safety net flags (in all and per kind), flagged seeker turns, and dialogues where a flagged
    turn was left unaddressed (the reply gives no real guidance, or the dialogue ends there)."""
    detector = default_detector()
    columns = []
    for dialogues in corpora.values():
        prime_safety(dialogues, detector)
        audits = [crisis_turns(d, detector) for d in dialogues]
        n = len(dialogues)

        def share(count: int, n: int = n) -> str:
            return f"{count:,} ({100 * count / n:.1f}%)" if n else "0"

        columns.append([
            share(sum(bool(a) for a in audits)),
            *[share(sum(any(kind in c.kinds for c in a) for a in audits)) for kind in RISK_KINDS],
            f"{sum(len(a) for a in audits):,}",
            share(sum(any(not c.addressed for c in a) for a in audits)),
        ])
    labels = ["dialogues flagged", *[f"  with {k.replace('_', ' ')}" for k in RISK_KINDS], "seeker turns flagged",
              "dialogues with an unaddressed crisis turn"]
    return [["metric", *corpora], *[[label, *(c[i] for c in columns)] for i, label in enumerate(labels)]]


def drop_rows(drops: list[dict[str, Any]]) -> list[list[str]]:
    """(dialogue id, first rule failed, every reason) of the first SHOWN_DROPS drops."""
    return [[d["id"], d["rule"], "; ".join(f"{rule}: {why}" for rule, why in d["reasons"].items())]
            for d in drops[:SHOWN_DROPS]]


def _excerpt(dialogues: Sequence[Dialogue], turns: int = 8) -> tuple[str, list[tuple[str, str, str, str]]]:
    """(dialogue id, [(speaker, strategy, text, reasoning)]) of the first dialogue's opening turns."""
    if not dialogues:
        return "", []
    d = merge_consecutive(dialogues[0])
    return d.id, [(t.speaker, t.strategy or "", t.text, t.reasoning.as_text() if t.reasoning else "")
                  for t in d.turns[:turns]]


def build_report(corpora: dict[str, Sequence[Dialogue]], out_dir: str | Path, *,
                 sources: dict[str, str] | None = None, judged: dict[str, dict[str, Any]] | None = None,
                 judge_model: str | None = None, filter_tables: dict[str, list[list[str]]] | None = None,
                 drops: dict[str, list[dict[str, Any]]] | None = None, title: str = "Corpus report",
                 quality: list[list[str]] | None = None) -> Path:
    """Write report.html, report.md, the tables as CSV and the plots as PNG into ``out_dir``; return the page.
    ``drops`` are the dropped dialogues of a filtered corpus (``socialsim filter``'s drops file), with reasons;
    ``quality`` is the table of :func:`socialsim.evaluation.quality.quality_rows`, when measured."""
    out = Path(out_dir)
    check_output(out, directory=True)
    stats = [corpus_stats(name, dialogues) for name, dialogues in corpora.items()]
    comparison = matched(stats) if len(stats) > 1 else {}
    tables = {"summary": summary_rows(stats, comparison), "safety": safety_rows(corpora),
              "strategies": strategy_rows(stats), "topics": topic_rows(stats)}
    if quality:
        tables["quality"] = quality
    if judged:
        tables["judge"] = score_rows(judged)
    figs = figures(stats, judged, comparison)
    for name, rows in tables.items():
        write_atomic(out / f"{name}.csv", csv_text(rows))
    for fig in figs:
        write_atomic(out / f"{fig.key}.png", fig.png)
    context = {
        "title": title, "version": __version__, "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "corpora": [(s.name, (sources or {}).get(s.name, ""), s.dialogues) for s in stats],
        "tables": tables, "figures": figs, "tokenizer": notes(stats), "intervals": INTERVAL_NOTE,
        "judge_model": judge_model, "filters": filter_tables or {}, "drops": drops or {}, "shown_drops": SHOWN_DROPS,
        "safety_layers": default_detector().describe(),
        "excerpts": {name: _excerpt(dialogues) for name, dialogues in corpora.items() if dialogues},
    }
    env = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    page = env.from_string(files("socialsim.evaluation").joinpath("report.html.j2").read_text("utf-8"))
    write_atomic(out / "report.html", page.render(**context))
    write_atomic(out / "report.md", _markdown(context))
    return out / "report.html"


def _markdown(ctx: dict[str, Any]) -> str:
    esc = markdown_text
    parts = [f"# {esc(ctx['title'])}", "", f"Generated {ctx['generated']} by socialsim {ctx['version']}.", ""]
    parts += [f"- **{esc(name)}**: {n:,} dialogues {f'({esc(src)})' if src else ''}"
              for name, src, n in ctx["corpora"]]
    headings = {"summary": "Statistics", "safety": "Crisis safety", "strategies": "Strategy distribution",
                "topics": "Topics", "quality": "Quality measures",
                "judge": f"LLM-judge scores (model: {esc(str(ctx['judge_model']))})"}
    for key, rows in ctx["tables"].items():
        parts += ["", f"## {headings[key]}", "", markdown_table(rows)]
        if key == "safety":
            parts += ["", f"Risk detected by the {ctx['safety_layers']}; see docs/safety.md for what it misses."]
    for name, rows in ctx["filters"].items():
        parts += ["", f"## Filtering: {esc(name)}", "", markdown_table(rows)]
        if ctx["drops"].get(name):
            parts += ["", markdown_table([["dropped dialogue", "rule", "reasons"], *drop_rows(ctx["drops"][name])])]
    parts += ["", "## Plots", ""] + [f"![{f.title}]({f.key}.png)" for f in ctx["figures"]]
    parts += ["", f"_{ctx['tokenizer']} {ctx['intervals']}_", ""]
    return "\n".join(parts)
