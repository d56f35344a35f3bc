"""Comparing corpora as a researcher reads them: labels, sizes, 95% intervals, Distinct-n at equal size, every
point of the per-turn curves, the reasons for each drop, and `stats --json`."""

import json
import random

import pytest
from typer.testing import CliRunner

from socialsim.cli.main import app
from socialsim.corpus.dialogue import Dialogue, Turn
from socialsim.corpus.labels import default_labels, label_corpora, split_spec
from socialsim.errors import SocialsimError
from socialsim.evaluation.compare import matched_distinct
from socialsim.evaluation.intervals import ratio_interval
from socialsim.evaluation.report import build_report, curve_series
from socialsim.evaluation.stats import corpus_stats, summary_rows
from test_evaluation_stats import fixture
from webapp_data import WEIGHTS, WORDS


def test_default_labels_are_short_unique_paths(tmp_path):
    from pathlib import Path

    paths = [Path("runs/a/dialogues.jsonl"), Path("runs/b/dialogues.jsonl"), Path("data/esconv/test.jsonl")]
    assert default_labels(paths) == ["a/dialogues.jsonl", "b/dialogues.jsonl", "esconv/test.jsonl"]
    deep = [Path("x/run/dialogues.jsonl"), Path("y/run/dialogues.jsonl")]
    assert default_labels(deep) == ["x/run/dialogues.jsonl", "y/run/dialogues.jsonl"]
    assert split_spec("kept=runs/x/filtered.jsonl") == ("kept", Path("runs/x/filtered.jsonl"))
    assert split_spec("runs/a=b/x.jsonl") == (None, Path("runs/a=b/x.jsonl"))  # '=' inside a path
    odd = tmp_path / "a=b.jsonl"
    odd.write_text("")
    assert split_spec(str(odd)) == (None, odd)  # an existing file is a path even with '='
    labelled = label_corpora(["kept=runs/x/filtered.jsonl", "runs/x/dialogues.jsonl"])
    assert [c.label for c in labelled] == ["kept", "x/dialogues.jsonl"]
    with pytest.raises(SocialsimError, match="two corpora are named 'same'"):
        label_corpora(["same=a.jsonl", "same=b.jsonl"])


def test_intervals_come_from_resampling_dialogues():
    one = ratio_interval([12], [3])
    assert one.value == 4.0 and str(one) == "4.00"  # one dialogue: no interval
    two = ratio_interval([10, 2], [2, 2])  # 5 and 1 words per utterance
    assert two.value == 3.0 and 1.0 <= two.low < 3.0 < two.high <= 5.0
    rows = dict((r[0], r[1]) for r in summary_rows([corpus_stats("f", fixture())]))
    assert rows["utterances / dialogue"].startswith("3.00 [2.00, ") and rows["dialogues"] == "2"


def _zipf_corpus(n_utterances: int, seed: int) -> list[list[str]]:
    rng = random.Random(seed)
    return [rng.choices(WORDS, WEIGHTS, k=12) for _ in range(n_utterances)]


def test_distinct_is_compared_at_equal_size():
    """Two samples of one word distribution, 30 and 3,000 utterances: their whole-corpus Distinct-1 is far apart
    (it falls as a corpus grows), their size-matched Distinct-1 is not."""
    from socialsim.metrics.distinct import distinct_n

    small, large = _zipf_corpus(30, 1), _zipf_corpus(3000, 2)
    assert distinct_n(small, 1) - distinct_n(large, 1) > 25
    m = matched_distinct({"small": small, "large": large})
    assert m.tokens == 360
    assert abs(m.distinct["small"][1].value - m.distinct["large"][1].value) < 6
    large_1 = m.distinct["large"][1]
    assert large_1.low < large_1.value < large_1.high  # the spread of 200 samples of the large corpus
    assert str(m.distinct["small"][1]) == f"{distinct_n(small, 1):.2f}"  # the smallest is used whole


def test_summary_of_several_corpora_compares_distinct_at_equal_size():
    small = [Dialogue(id=f"s{i}", turns=[Turn(speaker="seeker", text=" ".join(t)),
                                         Turn(speaker="supporter", text=" ".join(t[::-1]))])
             for i, t in enumerate(_zipf_corpus(10, 3))]
    large = [Dialogue(id=f"l{i}", turns=[Turn(speaker="seeker", text=" ".join(t)),
                                         Turn(speaker="supporter", text=" ".join(t[::-1]))])
             for i, t in enumerate(_zipf_corpus(500, 4))]
    rows = summary_rows([corpus_stats("small", small), corpus_stats("large", large)])
    labels = [r[0] for r in rows]
    assert any(label.startswith("Distinct-1 (all, ") and "tokens each)" in label for label in labels)
    assert not any(label == "Distinct-1 (all)" for label in labels)  # no whole-corpus value to misread
    row = next(r for r in rows if r[0].startswith("Distinct-1 (all, "))
    assert "[" not in row[1] and "[" in row[2]


def _sim(i: int, seeker_turns: int) -> Dialogue:
    turns = []
    for k in range(seeker_turns):
        turns.append(Turn(speaker="seeker", text=f"turn {k} of {i}", disclosed=["situation"][: k], intensity=4 - k % 3))
        turns.append(Turn(speaker="supporter", text=f"reply {k}", strategy="Question"))
    return Dialogue(id=f"sim{i}", turns=turns)


def _survey(i: int, utterances: int) -> Dialogue:
    turns = [Turn(speaker="seeker" if k % 2 == 0 else "supporter", text=f"u{k}") for k in range(utterances)]
    return Dialogue(id=f"es{i}", turns=turns, meta={"initial_emotion_intensity": 4, "final_emotion_intensity": 2})


def test_curves_keep_small_corpora_and_place_survey_ends_at_the_corpus_length():
    one_dialogue = corpus_stats("sim", [_sim(0, 4)])
    survey = corpus_stats("esconv", [_survey(0, 30), _survey(1, 20)])  # 15 and 10 seeker turns
    series = {s.name: s for s in curve_series([one_dialogue, survey], "intensity")}
    sim = series["sim"]
    assert not sim.dashed and sim.xs == [1, 2, 3, 4] and sim.solid == [False] * 4  # 1 dialogue: hollow points
    assert series["esconv"].dashed and series["esconv"].xs == [1, 12.5] and series["esconv"].ys == [4, 2]
    assert "survey" in series["esconv"].label and "survey" not in sim.label and "n=1" in sim.label
    disclosure = curve_series([one_dialogue, survey], "disclosure")
    assert [s.name for s in disclosure] == ["sim"]  # esconv records no disclosure


def test_report_shows_labels_sizes_and_why_each_dialogue_was_dropped(tmp_path):
    from test_evaluation_filters import BAD, make

    source = tmp_path / "run" / "dialogues.jsonl"
    source.parent.mkdir()
    source.write_text("".join(d.model_dump_json() + "\n" for d in [make(), BAD["leakage"]]), encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(app, ["filter", str(source), str(tmp_path / "run" / "filtered.jsonl")]).exit_code == 0
    result = runner.invoke(app, ["report", f"kept={tmp_path}/run/filtered.jsonl", "--compare", str(source),
                                 "--out", str(tmp_path / "report")])
    assert result.exit_code == 0, result.output
    html = (tmp_path / "report" / "report.html").read_text()
    assert "<strong>kept</strong>" in html and "<strong>run/dialogues.jsonl</strong>" in html
    assert "Why each dialogue was dropped" in html and "leakage" in html and BAD["leakage"].id in html
    assert "95% interval" in html
    assert (tmp_path / "report" / "summary.csv").read_text().startswith("metric,kept,run/dialogues.jsonl")


def test_report_distinct_plot_uses_matched_samples(tmp_path):
    dialogues = {"a": [_sim(i, 4) for i in range(2)], "b": [_sim(i, 4) for i in range(40)]}
    build_report(dialogues, tmp_path / "rep")
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "tokens each)" in md and "| Distinct-1 (all) |" not in md


def test_stats_json_has_numbers_intervals_and_matched_distinct(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text("".join(d.model_dump_json() + "\n" for d in fixture()), encoding="utf-8")
    b.write_text("".join(_sim(i, 3).model_dump_json() + "\n" for i in range(5)), encoding="utf-8")
    result = CliRunner().invoke(app, ["stats", f"tiny={a}", str(b), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    tiny, other = data["corpora"]
    assert tiny["name"] == "tiny" and other["name"].endswith("/b.jsonl") and tiny["dialogues"] == 2
    assert tiny["utterances_per_dialogue"]["value"] == 3.0 and tiny["utterances_per_dialogue"]["n"] == 2
    assert other["distinct_matched"]["all"]["tokens"] == tiny["distinct_matched"]["all"]["tokens"]
    assert other["intensity_curve"]["1"]["dialogues"] == 5
