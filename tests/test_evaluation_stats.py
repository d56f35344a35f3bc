"""Corpus statistics against hand-computed values, and the ESConv figures of its README."""

import math

import pytest
from typer.testing import CliRunner

from conftest import ESCONV
from socialsim.cli.main import app
from socialsim.corpus.dialogue import Dialogue, Turn
from socialsim.evaluation.stats import corpus_stats, summary_rows


def fixture() -> list[Dialogue]:
    return [
        Dialogue(id="a", topic="grief", turns=[
            Turn(speaker="seeker", text="i feel sad", disclosed=["situation"], intensity=4),
            Turn(speaker="supporter", text="i feel you", strategy="Question"),
            Turn(speaker="seeker", text="sad sad", disclosed=["situation", "event_time"], intensity=2),
            Turn(speaker="supporter", text="you will be ok", strategy="Affirmation and Reassurance"),
        ]),
        Dialogue(id="b", topic="work", turns=[
            Turn(speaker="seeker", text="hello", disclosed=[], intensity=5),
            Turn(speaker="supporter", text="hello there", strategy="Question"),
        ]),
    ]


def test_distinct_entropy_and_lengths_match_hand_computed_values():
    st = corpus_stats("fixture", fixture())
    # 15 tokens, 9 unique; 9 bigrams, 8 unique; 4 trigrams, all unique.
    assert st.distinct == pytest.approx({1: 100 * 9 / 15, 2: 100 * 8 / 9, 3: 100.0})
    # Supporter only: 9 tokens, 8 unique ("you" twice).
    assert st.distinct_supporter[1] == pytest.approx(100 * 8 / 9)
    # Question 2, Affirmation 1: H = -(2/3 log2 2/3 + 1/3 log2 1/3) = 0.9183 bits.
    assert st.strategy_entropy == pytest.approx(-(2 / 3 * math.log2(2 / 3) + 1 / 3 * math.log2(1 / 3)))
    assert st.strategy_entropy == pytest.approx(0.9183, abs=1e-4)
    assert st.vocabulary == 9 and st.dialogues == 2 and st.utterances == 6 and st.turns == {4: 1, 2: 1}
    assert st.mean_length("seeker") == 2.0 and st.mean_length("supporter") == 3.0 and not st.estimated
    assert st.disclosure == {1: 0.5, 2: 2.0} and st.disclosure_n == {1: 2, 2: 1}  # every point, with its count
    assert st.intensity == {1: 4.5, 2: 2.0} and st.intensity_n == {1: 2, 2: 1}
    assert st.intensity_start_end == (4.5, 3.5)
    assert st.topics == {"grief": 1, "work": 1}


def test_esconv_test_matches_its_readme():
    from socialsim.corpus.readers import read_corpus

    rows = dict((r[0], r[1]) for r in summary_rows([corpus_stats("esconv", read_corpus(ESCONV / "test.jsonl"))]))
    assert rows["dialogues"] == "195" and rows["utterances"] == "6,039"
    assert rows["supporter utterances"] == "2,895" and rows["seeker utterances"] == "3,144"
    assert rows["utterances / dialogue"].startswith("30.97 [")
    # README: supporter 17.1, seeker 14.3 whitespace words (17.0487 and 14.2783 exactly).
    assert rows["words / supporter utterance"].startswith("17.05 [")
    assert rows["words / seeker utterance"].startswith("14.28 [")


def test_stats_cli_side_by_side(tmp_path):
    path = tmp_path / "fixture.jsonl"
    path.write_text("".join(d.model_dump_json() + "\n" for d in fixture()), encoding="utf-8")
    result = CliRunner().invoke(app, ["stats", str(path), str(ESCONV / "test.jsonl")])
    assert result.exit_code == 0, result.output
    assert "fixture.jsonl" in result.output and "6,039" in result.output and "Treebank" in result.output
