"""The corpus index: filters, paging and reads by seeking agree with reading the whole file."""

import random

import pytest

from conftest import ESCONV
from socialsim.corpus.index import CorpusIndex, Filters
from socialsim.corpus.readers import read_corpus
from socialsim.errors import InputFileError
from socialsim.evaluation.judgements import Judgements
from webapp_data import synthetic_dialogue, write_corpus

pytestmark = pytest.mark.usefixtures("lexicon_safety")  # scripted text: see conftest.py


@pytest.fixture
def corpus(tmp_path):
    return write_corpus(tmp_path / "sim.jsonl", 60)


def test_every_dialogue_read_by_seeking_equals_the_file(corpus):
    index = CorpusIndex([corpus])
    expected = list(read_corpus(corpus))
    assert index.corpora[0].size == len(expected) == 60
    assert [index.read(0, row) for row in range(60)] == expected
    assert index.read(0, 60) is None and index.read(1, 0) is None


def test_filters_match_a_brute_force_scan(corpus):
    index = CorpusIndex([corpus])
    dialogues = list(read_corpus(corpus))
    page = index.page(0, Filters(topic="job crisis", strategy="Question", termination="max_turns"), per_page=100)
    expected = [i for i, d in enumerate(dialogues) if d.topic == "job crisis" and d.termination == "max_turns"
                and any(t.strategy == "Question" for t in d.turns)]
    assert [r.row for r in page.rows] == expected and page.total == len(expected) > 0
    risky = index.page(0, Filters(risk=True), per_page=100)
    assert [r.row for r in risky.rows] == [i for i in range(60) if i % 10 == 3]
    assert index.page(0, Filters(risk=False), per_page=100).total == 54


def test_text_search_needs_every_word_and_ignores_fts_syntax(tmp_path):
    special = synthetic_dialogue(999, random.Random(1))
    special.turns[0].text = 'My cat "Biscuit" ran away AND NOT home* (again)'
    path = write_corpus(tmp_path / "c.jsonl", 5, extra=[special])
    index = CorpusIndex([path])
    assert [r.id for r in index.page(0, Filters(text="biscuit ran")).rows] == ["sim-00999"]
    assert index.page(0, Filters(text="biscuit zebra")).total == 0
    assert index.page(0, Filters(text='"Biscuit" AND NOT home* (')).total == 1  # quoted word by word, no error


def test_paging_covers_every_row_once(corpus):
    index = CorpusIndex([corpus])
    seen = []
    for number in range(1, 4):
        page = index.page(0, Filters(), page=number, per_page=25)
        assert page.pages == 3
        seen += [r.row for r in page.rows]
    assert seen == list(range(60))
    assert index.page(0, Filters(), page=99).rows == []


def test_esconv_is_indexed_with_its_topics_and_strategies():
    index = CorpusIndex([ESCONV / "test.jsonl"])
    corpus = index.corpora[0]
    assert corpus.size == 195 and corpus.format == "esconv"
    assert len(corpus.facets["topic"]) >= 5
    assert {s for s, _ in corpus.facets["strategy"]} >= {"Question", "Providing Suggestions"}


def test_a_bad_line_names_file_and_line(tmp_path):
    path = write_corpus(tmp_path / "bad.jsonl", 3)
    with path.open("a") as handle:
        handle.write("{not json\n")
    with pytest.raises(InputFileError, match=r"bad.jsonl, line 4"):
        CorpusIndex([path])
    with pytest.raises(InputFileError, match="not found"):
        CorpusIndex([tmp_path / "missing.jsonl"])


def test_index_cache_is_reused_until_the_corpus_changes(tmp_path, corpus):
    first = CorpusIndex([corpus], cache_dir=tmp_path / "index")
    again = CorpusIndex([corpus], cache_dir=tmp_path / "index")
    assert not first.corpora[0].cached and again.corpora[0].cached
    assert again.page(0, Filters(risk=True)).rows == first.page(0, Filters(risk=True)).rows
    assert again.read(0, 59) == first.read(0, 59)
    with corpus.open("a") as handle:  # the simulator appended a dialogue: the index is rebuilt
        handle.write(synthetic_dialogue(60, random.Random(2)).model_dump_json() + "\n")
    grown = CorpusIndex([corpus], cache_dir=tmp_path / "index")
    assert not grown.corpora[0].cached and grown.corpora[0].size == 61
    assert not list((tmp_path / "index").glob("*.tmp*"))


def test_judge_scores_filter_the_list(corpus):
    judge = Judgements(scores={"sim-00001": {"coherence": 5.0, "safety": 4.0}, "sim-00002": {"coherence": 2.0}})
    index = CorpusIndex([corpus], scores={did: judge.mean(did) for did in judge.scores})
    assert [(r.id, r.judge) for r in index.page(0, Filters(min_judge=3)).rows] == [("sim-00001", 4.5)]
    assert index.summary(0)["judged"] == 2


def test_risk_kinds_and_unaddressed_crisis_turns_are_indexed_and_filtered(tmp_path):
    """Every 10th synthetic dialogue says "I think about hurting myself" and gets a reply of random words
    (unaddressed); one copy gets a reply that asks about safety and names a crisis line (addressed)."""
    addressed = synthetic_dialogue(998, random.Random(2), risk=True)
    addressed.turns[3].text = "I'm worried about you. Are you safe right now? Please call a crisis line."
    path = write_corpus(tmp_path / "c.jsonl", 40, extra=[addressed])
    index = CorpusIndex([path])
    risky = [f"sim-{i:05d}" for i in range(40) if i % 10 == 3]
    rows = index.page(0, Filters(risk_kind="self_harm"), per_page=100).rows
    assert [r.id for r in rows] == [*risky, "sim-00998"] and all(r.risk_kinds == ("self_harm",) for r in rows)
    assert [r.id for r in index.page(0, Filters(risk_kind="unaddressed"), per_page=100).rows] == risky
    assert index.page(0, Filters(risk_kind="abuse")).total == 0
    assert index.corpora[0].summary["risk"] == 5 and index.corpora[0].summary["unaddressed"] == 4
