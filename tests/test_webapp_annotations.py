"""Human evaluation store and results: validation, idempotency, durability, win rates and agreement."""

import csv
import io
import json
import random
import sqlite3

import pytest

from socialsim.evaluation.human.results import export, krippendorff_alpha, to_csv
from socialsim.evaluation.human.store import AnnotationStore, SubmissionError, new_token
from socialsim.evaluation.judgements import Judgements, load_judgements
from socialsim.evaluation.pairing import pair_by_topic
from webapp_data import synthetic_dialogue


def dialogues(n, seed=0, start=0):
    rng = random.Random(seed)
    return [synthetic_dialogue(start + i, rng, turns=4) for i in range(n)]


def test_pairs_are_topic_matched_and_sides_recorded(tmp_path):
    a, b = dialogues(10), dialogues(10, seed=1, start=100)
    pairs, _ = pair_by_topic(a, b, limit=10, seed=3)
    assert len(pairs) == 10 and all(x.topic == y.topic for x, y in pairs)
    store = AnnotationStore(tmp_path / "a.sqlite")
    task = store.create_task("t", pairs, corpus_a="sim", corpus_b="other", dimensions=["helpfulness"], seed=7)
    sides = [item.left_side for item in store.items(task.id)]
    assert set(sides) == {"A", "B"}  # randomised ...
    again = store.create_task("t", pairs, corpus_a="sim", corpus_b="other", dimensions=["helpfulness"], seed=7)
    assert [i.left_side for i in store.items(again.id)] == sides  # ... and reproducible from the seed
    item = next(iter(store.items(task.id)))
    assert item.shown[0].id == (item.a.id if item.left_side == "A" else item.b.id)


def test_screen_choice_is_stored_in_corpus_terms(tmp_path):
    store = AnnotationStore(tmp_path / "a.sqlite")
    pairs, _ = pair_by_topic(dialogues(6), dialogues(6, 1, 100), limit=6, any_topic=True, seed=0)
    task = store.create_task("t", pairs, corpus_a="A",
                             corpus_b="B", dimensions=["helpfulness", "safety"], seed=1)
    for item in store.items(task.id):
        store.submit(task.id, item.item_no, "ann", {"helpfulness": "left", "safety": "tie"}, new_token())
        values = {r.dimension: r.value for r in store.ratings(task.id) if r.item_no == item.item_no}
        assert values == {"helpfulness": item.left_side, "safety": "tie"}
        assert store.screen_values(task.id, item.item_no, "ann") == {"helpfulness": "left", "safety": "tie"}


def test_double_submit_stores_one_row_per_judgement_and_survives_reopen(tmp_path):
    path = tmp_path / "a.sqlite"
    store = AnnotationStore(path)
    task = store.create_task("t", dialogues(2), corpus_a="sim", dimensions=["helpfulness", "coherence"])
    token = new_token()
    assert store.submit(task.id, 0, "ann", {"helpfulness": "4", "coherence": "5"}, token) is True
    assert store.submit(task.id, 0, "ann", {"helpfulness": "4", "coherence": "5"}, token) is False
    assert len(store.ratings(task.id)) == 2
    store.submit(task.id, 0, "ann", {"helpfulness": "2", "coherence": "5"}, new_token())  # a revision
    store.close()
    reopened = AnnotationStore(path)
    assert {(r.dimension, r.value) for r in reopened.ratings(task.id)} == {("helpfulness", "2"), ("coherence", "5")}
    # The database itself refuses a second row for one judgement.
    with sqlite3.connect(path) as db, pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO ratings (task_id, item_no, annotator, dimension, value, token, created_at) "
                   "VALUES (?, 0, 'ann', 'coherence', '1', 'x', 'now')", (task.id,))


@pytest.mark.parametrize("values, annotator, token, message", [
    ({"helpfulness": "6", "coherence": "5"}, "ann", None, "helpfulness"),
    ({"helpfulness": "4"}, "ann", None, "coherence"),
    ({"helpfulness": "4", "coherence": "5", "bogus": "1"}, "ann", None, "bogus"),
    ({"helpfulness": "4", "coherence": "5"}, "<script>", None, "annotator"),
    ({"helpfulness": "4", "coherence": "5"}, "ann", "short", "token"),
])
def test_invalid_submissions_are_refused(tmp_path, values, annotator, token, message):
    store = AnnotationStore(tmp_path / "a.sqlite")
    task = store.create_task("t", dialogues(1), corpus_a="sim", dimensions=["helpfulness", "coherence"])
    with pytest.raises(SubmissionError, match=message):
        store.submit(task.id, 0, annotator, values, token or new_token())
    with pytest.raises(SubmissionError, match="no item"):
        store.submit(task.id, 5, "ann", {"helpfulness": "4", "coherence": "5"}, new_token())
    assert store.ratings(task.id) == []


def test_krippendorff_alpha_matches_hand_computation():
    # Interval alpha, 2 coders x 3 items: (1,1), (2,2), (3,4). Do = 2/6, De = 82/30 -> alpha = 1 - 10/82.
    triples = [("x", "1", "1"), ("y", "1", "1"), ("x", "2", "2"), ("y", "2", "2"), ("x", "3", "3"), ("y", "3", "4")]
    assert krippendorff_alpha(triples, "interval") == pytest.approx(1 - 10 / 82, abs=1e-4)
    # Nominal, 2 coders x 4 items agreeing on 3: values A,A,B,B,A,A,A,B -> Do = 2/8, De = 2*5*3/(8*7).
    nominal = [("x", "1", "A"), ("y", "1", "A"), ("x", "2", "B"), ("y", "2", "B"), ("x", "3", "A"),
               ("y", "3", "A"), ("x", "4", "A"), ("y", "4", "B")]
    assert krippendorff_alpha(nominal, "nominal") == pytest.approx(1 - (2 / 8) / (30 / 56), abs=1e-4)
    assert krippendorff_alpha(triples[:2], "interval") is None  # one shared item: undefined
    assert krippendorff_alpha([("x", "1", "3"), ("y", "1", "3"), ("x", "2", "3"), ("y", "2", "3")], "interval") is None


def test_export_win_rates_agreement_and_judge_comparison(tmp_path):
    store = AnnotationStore(tmp_path / "a.sqlite")
    a, b = dialogues(4), dialogues(4, 1, 100)
    judge = Judgements(scores={**{d.id: {"helpfulness": 5.0 if i < 2 else 2.0} for i, d in enumerate(a)},
                               **{d.id: {"helpfulness": 3.0} for d in b}})
    pairs = list(zip(a, b, strict=True))
    task = store.create_task("t", pairs, corpus_a="A", corpus_b="B", dimensions=["helpfulness"], seed=0)
    items = list(store.items(task.id))

    def pick(item, side):  # the screen choice that means corpus `side`
        return "tie" if side == "tie" else ("left" if item.left_side == side else "right")

    for ann, sides in {"u1": ["A", "A", "B", "tie"], "u2": ["A", "A", "B", "B"]}.items():
        for item, side in zip(items, sides, strict=True):
            store.submit(task.id, item.item_no, ann, {"helpfulness": pick(item, side)}, new_token())
    result = export(store, task.id, judge)
    s = result["dimensions"]["helpfulness"]
    assert (s["wins_A"], s["wins_B"], s["ties"], s["judgements"]) == (4, 3, 1, 8)
    assert s["win_rate_A"] == 0.5 and s["tie_rate"] == 0.125
    assert s["agreement"]["items_with_2plus_annotators"] == 4
    assert s["agreement"]["krippendorff_alpha"] == pytest.approx(
        krippendorff_alpha([(r["annotator"], str(r["item_no"]), r["value"]) for r in result["ratings"]], "nominal"))
    # Judge prefers A on items 0-1 and B on 2-3; humans: A, A, B, (B+tie -> B): agreement 1.0.
    assert result["judge_vs_human"]["helpfulness"]["agreement"] == 1.0
    rows = list(csv.DictReader(io.StringIO(to_csv(result))))
    assert len(rows) == 8 and [r["judge"] for r in rows if r["annotator"] == "u1"] == ["A", "A", "B", "B"]
    json.dumps(result)  # serialisable as is
    # A pairwise verdict of the judge (x = B's dialogue, outcome from x's side) takes precedence over scores.
    judge.pairs[(b[0].id, a[0].id)] = {"helpfulness": "win"}
    assert export(store, task.id, judge)["judge_vs_human"]["helpfulness"]["agreement"] == 0.75


def test_single_task_compares_human_and_judge_scores(tmp_path):
    store = AnnotationStore(tmp_path / "a.sqlite")
    items = dialogues(3)
    task = store.create_task("t", items, corpus_a="sim", dimensions=["coherence"])
    for item_no, score in enumerate(["2", "4", "5"]):
        store.submit(task.id, item_no, "u1", {"coherence": score}, new_token())
    path = tmp_path / "judgements.jsonl"
    records = [{"key": f"score|{d.id}|r", "kind": "score", "dialogue_id": d.id, "model": "m", "failed": False,
                "scores": {"coherence": s}, "reasons": {"coherence": "why"}}
               for d, s in zip(items, [1, 3, 4], strict=True)]
    records.append({"key": "x", "kind": "score", "dialogue_id": "other", "failed": True, "error": "unparsable"})
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    judge = load_judgements([path])
    assert set(judge.scores) == {d.id for d in items}  # the failed record is not a score
    cmp = export(store, task.id, judge)["judge_vs_human"]["coherence"]
    assert cmp == {"items": 3, "human_mean": round(11 / 3, 4), "judge_mean": round(8 / 3, 4), "mean_abs_diff": 1.0,
                   "spearman": 1.0}
