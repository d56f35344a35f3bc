"""`socialsim serve` and `socialsim annotate` as a user meets them (subprocesses, one-line errors)."""

import csv

from test_cli import socialsim
from webapp_data import write_corpus


def test_serve_refuses_a_public_address_without_allow_remote(tmp_path):
    corpus = write_corpus(tmp_path / "c.jsonl", 3)
    result = socialsim("serve", "--corpus", str(corpus), "--host", "0.0.0.0", "--db", str(tmp_path / "r.sqlite"))
    assert result.returncode == 2 and "refusing to bind 0.0.0.0" in result.stderr and "--allow-remote" in result.stderr
    assert "Traceback" not in result.stderr


def test_annotate_create_list_export(tmp_path):
    a, b = write_corpus(tmp_path / "a.jsonl", 12), write_corpus(tmp_path / "b.jsonl", 12, seed=1)
    db = str(tmp_path / "r.sqlite")
    created = socialsim("annotate", "create", "--corpus", str(a), "--corpus", str(b), "-n", "4", "--dimension",
                        "helpfulness", "--dimension", "safety", "--db", db)
    assert created.returncode == 0, created.stderr
    task_id = created.stdout.split()[1].rstrip(":")
    assert "pairwise, 4 items" in created.stdout and f"/annotate/{task_id}" in created.stdout

    from socialsim.evaluation.human.store import AnnotationStore, new_token

    store = AnnotationStore(db)
    for item in store.items(task_id):
        store.submit(task_id, item.item_no, "ann", {"helpfulness": "left", "safety": "tie"}, new_token())
    assert f"{task_id}  pairwise" in socialsim("annotate", "list", "--db", db).stdout
    out = tmp_path / "out" / "pilot.csv"
    exported = socialsim("annotate", "export", task_id, "--out", str(out), "--db", db)
    assert exported.returncode == 0 and "wrote 8 judgements" in exported.stdout
    assert len(list(csv.DictReader(out.open()))) == 8
    unknown = socialsim("annotate", "export", "nope", "--db", db)
    assert unknown.returncode == 2 and "no task 'nope'" in unknown.stderr
