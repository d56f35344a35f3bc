"""Human evaluation and the corpus browser as a researcher uses them: corpus labels everywhere, tasks that say why
they got fewer items, pairs cut to equal length, comments, flags and skips, stemmed search, 1-based rows."""

import csv
import io
import random
import re

import pytest
from fastapi.testclient import TestClient

from socialsim.corpus.dialogue import Dialogue, Turn
from socialsim.corpus.index import CorpusIndex, Filters
from socialsim.evaluation.human import AnnotationStore, export, new_token, sample_task
from socialsim.evaluation.human.results import to_csv
from socialsim.evaluation.human.tasks import cut_pair
from socialsim.webapp.app import build
from webapp_data import synthetic_dialogue, write_corpus


def _write(path, dialogues):
    path.write_text("".join(d.model_dump_json() + "\n" for d in dialogues), encoding="utf-8")
    return path


def _short(i: int, topic: str, utterances: int = 6) -> Dialogue:
    return Dialogue(id=f"short{i}", topic=topic, turns=[
        Turn(speaker="seeker" if k % 2 == 0 else "supporter", text=f"line {k} of {i}") for k in range(utterances)])


@pytest.fixture
def app_client(tmp_path):
    for run in ("run1", "run2"):
        (tmp_path / run).mkdir()
    a, b = write_corpus(tmp_path / "run1/dialogues.jsonl", 12), write_corpus(tmp_path / "run2/dialogues.jsonl", 4)
    app = build([f"ours={a}", str(b)], tmp_path / "db.sqlite", None)
    with TestClient(app, base_url="http://127.0.0.1", headers={"Sec-Fetch-Site": "same-origin"}) as client:  # a browser
        yield client


def test_labels_show_on_home_nav_tasks_and_exports(app_client):
    home = app_client.get("/").text
    assert '<a href="/c/0">ours</a>' in home and '<a href="/c/1">run2/dialogues.jsonl</a>' in home
    assert 'title="dialogues.jsonl">ours</a>' in home  # the nav bar
    created = app_client.post("/tasks", data={"corpus_a": "0", "corpus_b": "1", "items": "3", "seed": "1",
                                              "dimensions": ["coherence"]}, follow_redirects=False)
    task_id = created.headers["location"].rsplit("/", 1)[1]
    assert "Corpus A = ours, corpus B = run2/dialogues.jsonl" in app_client.get(f"/tasks/{task_id}").text
    form = app_client.get(f"/annotate/{task_id}/next", params={"annotator": "ann"})
    token = re.search(r'name="token" value="([^"]+)"', form.text).group(1)
    app_client.post(f"/annotate/{task_id}/0", data={"annotator": "ann", "token": token, "dim:coherence": "left"})
    rows = list(csv.DictReader(io.StringIO(app_client.get(f"/tasks/{task_id}/export.csv").text)))
    assert rows[0]["corpus_a"] == "ours" and rows[0]["corpus_b"] == "run2/dialogues.jsonl"


def test_no_chat_link_without_chat_and_rows_count_from_one(app_client):
    home = app_client.get("/").text
    assert 'href="/chat"' not in home and "Chat is off" in home
    listing = app_client.get("/c/0").text
    first = re.search(r'<td class="muted">(\d+)</td>\s*<td><a href="/c/0/d/0">', listing)
    assert first and first.group(1) == "1"


def test_search_is_stemmed(tmp_path):
    rng = random.Random(0)
    plural, singular = synthetic_dialogue(1, rng), synthetic_dialogue(2, rng)
    plural.turns[0].text = "The vacations were hard this year."
    singular.turns[0].text = "One vacation alone, and I rehearsed what to say."
    index = CorpusIndex([_write(tmp_path / "c.jsonl", [plural, singular, synthetic_dialogue(3, rng)])])
    for query in ("vacation", "vacations", "Vacations"):
        assert {r.id for r in index.page(0, Filters(text=query)).rows} == {plural.id, singular.id}, query
    assert [r.id for r in index.page(0, Filters(text="rehearsing")).rows] == [singular.id]


def test_a_short_task_says_why(tmp_path):
    small = _write(tmp_path / "small.jsonl", [_short(i, "grief") for i in range(3)])
    big = write_corpus(tmp_path / "big.jsonl", 20)
    store = AnnotationStore(tmp_path / "db.sqlite")
    task = sample_task(store, CorpusIndex([f"sim={small}", f"esconv={big}"]), "t", 0, 1, 10, ["coherence"], 0)
    assert task.items == 3
    assert "10 pairs were asked for; 3 could be made: sim has only 3 dialogues." in task.note
    assert "0 of 3 pairs share a topic" in task.note
    single = sample_task(store, CorpusIndex([f"sim={small}"]), "s", 0, None, 5, ["coherence"], 0)
    assert "5 dialogues were asked for; sim has only 3." in single.note


def test_pairs_are_not_limited_to_topic_matches(tmp_path):
    """Corpus B holds one dialogue of A's topic and many others: every A dialogue still gets a partner."""
    a = _write(tmp_path / "a.jsonl", [_short(i, "grief") for i in range(8)])
    b = _write(tmp_path / "b.jsonl", [_short(100, "grief"), *[_short(200 + i, "job crisis") for i in range(20)]])
    store = AnnotationStore(tmp_path / "db.sqlite")
    task = sample_task(store, CorpusIndex([a, b]), "t", 0, 1, 8, ["coherence"], 0)
    assert task.items == 8 and "1 of 8 pairs share a topic" in task.note


def test_pairs_are_cut_to_the_same_number_of_turns(tmp_path):
    long, short = synthetic_dialogue(1, random.Random(0), turns=30), _short(1, "grief", 8)
    a, b = cut_pair(long, short)
    assert len(a.turns) == len(b.turns) == 8 and a.meta["shown_turns"] == 8 and a.meta["turns_in_corpus"] == 30
    assert "shown_turns" not in b.meta and a.turns == long.turns[:8]
    store = AnnotationStore(tmp_path / "db.sqlite")
    x = write_corpus(tmp_path / "x.jsonl", 6)
    y = _write(tmp_path / "y.jsonl", [_short(i, "job crisis") for i in range(6)])
    task = sample_task(store, CorpusIndex([x, y]), "t", 0, 1, 6, ["coherence"], 3)
    assert all(len(item.a.turns) == len(item.b.turns) == 6 for item in store.items(task.id))
    assert "same number of turns (6 dialogues cut)" in task.note


def test_comment_flag_and_skip_are_stored_and_exported(tmp_path):
    store = AnnotationStore(tmp_path / "db.sqlite")
    rng = random.Random(0)
    task = store.create_task("t", [synthetic_dialogue(i, rng) for i in range(3)], corpus_a="sim",
                             dimensions=["coherence"])
    store.submit(task.id, 0, "ann", {"coherence": "4"}, new_token(), comment="repeats itself", flagged=True)
    store.submit(task.id, 1, "ann", {"coherence": "2"}, new_token())
    assert store.skip(task.id, 1, "ann", new_token(), comment="cannot judge") is True
    assert store.progress(task.id, "ann") == {0} and store.skipped(task.id, "ann") == {1}  # the skip removed item 1
    result = export(store, task.id)
    notes = {n["item_no"]: n for n in result["notes"]}
    assert notes[0]["flagged"] and notes[0]["comment"] == "repeats itself" and not notes[0]["skipped"]
    assert notes[1]["skipped"] and notes[1]["comment"] == "cannot judge"
    rows = list(csv.DictReader(io.StringIO(to_csv(result))))
    assert [(r["item_no"], r["flagged"], r["comment"]) for r in rows] == [("0", "1", "repeats itself")]
    store.submit(task.id, 1, "ann", {"coherence": "3"}, new_token())  # rating after a skip replaces it
    assert store.skipped(task.id, "ann") == set() and store.note(task.id, 1, "ann") is None


def test_skip_over_http_moves_on_and_the_form_keeps_its_comment(tmp_path):
    corpus = write_corpus(tmp_path / "c.jsonl", 4)
    app = build([corpus], tmp_path / "db.sqlite", None)
    with TestClient(app, base_url="http://127.0.0.1", headers={"Sec-Fetch-Site": "same-origin"}) as client:
        created = client.post("/tasks", data={"corpus_a": "0", "corpus_b": "none", "items": "2", "seed": "1",
                                              "dimensions": ["coherence", "safety"]}, follow_redirects=False)
        task_id = created.headers["location"].rsplit("/", 1)[1]
        form = client.get(f"/annotate/{task_id}/next", params={"annotator": "ann"}).text
        assert "poor" in form and "excellent" in form and "<kbd>S</kbd> skip" in form  # anchors and keys
        token = re.search(r'name="token" value="([^"]+)"', form).group(1)
        skipped = client.post(f"/annotate/{task_id}/0", data={"annotator": "ann", "token": token, "action": "skip",
                                                              "comment": "off topic", "flag": "on"})
        assert skipped.status_code == 200 and "item 2 of 2" in skipped.text and "1 skipped" in skipped.text
        again = client.get(f"/annotate/{task_id}/0", params={"annotator": "ann"}).text
        assert "off topic</textarea>" in again and 'id="flag" checked' in again and "You skipped this item" in again
        token = re.search(r'name="token" value="([^"]+)"', again).group(1)
        bad = client.post(f"/annotate/{task_id}/0", data={"annotator": "ann", "token": token, "dim:coherence": "4",
                                                          "comment": "kept on error"})
        assert bad.status_code == 422 and "kept on error</textarea>" in bad.text


def test_results_come_with_95_percent_intervals(tmp_path):
    store = AnnotationStore(tmp_path / "db.sqlite")
    rng = random.Random(0)
    pairs = [(synthetic_dialogue(i, rng), synthetic_dialogue(100 + i, rng)) for i in range(10)]
    task = store.create_task("t", pairs, corpus_a="ours", corpus_b="theirs", dimensions=["overall"], seed=0)
    for item in store.items(task.id):  # A wins 7 of 10
        side = "left" if item.left_side == "A" else "right"
        other = "right" if side == "left" else "left"
        store.submit(task.id, item.item_no, "ann", {"overall": side if item.item_no < 7 else other}, new_token())
    overall = export(store, task.id)["dimensions"]["overall"]
    assert overall["win_rate_A"] == 0.7 and overall["win_rate_A_95ci"] == pytest.approx([0.3968, 0.8922], abs=1e-4)
    single = store.create_task("s", [d for d, _ in pairs[:4]], corpus_a="ours", dimensions=["overall"])
    for item_no, score in enumerate("2345"):
        store.submit(single.id, item_no, "ann", {"overall": score}, new_token())
    low, high = export(store, single.id)["dimensions"]["overall"]["mean_95ci"]
    assert low < 3.5 < high and low >= 2 and high <= 5
