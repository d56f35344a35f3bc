"""Paired bootstrap intervals of metric differences (compare-models): recomputation, planted and null effects."""

import json
import random
import subprocess
import sys

import numpy as np
import pytest

from socialsim.metrics.bootstrap import metric_values, paired_bootstrap, resample_weights, response_stats
from socialsim.metrics.responses import score_responses

TEXT = ("i feel you that sounds hard have you tried talking to a friend about it how long has this been going on "
        "it is okay to be upset work family sleep stress lonely")
WORDS = TEXT.split(" ")


def _sentences(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 14))) + rng.choice([".", "?", ""])
            for _ in range(n)]


def _ones(n: int) -> np.ndarray:
    return np.ones((1, n), dtype=np.int64)


def test_full_set_recomputation_equals_the_reported_scores():
    """The bootstrap's per-item statistics give back score_responses' corpus BLEU, ROUGE-L and Distinct exactly."""
    references = _sentences(120, 1)
    predictions = _sentences(120, 2)
    predictions[:3] = ["", "okay", references[5]]  # empty, one token, an exact match
    stats = response_stats(predictions, references, nll=[2.0] * 120, nll_tokens=[4] * 120)
    values = {k: float(v[0]) for k, v in metric_values(stats, _ones(120)).items()}
    expected = score_responses(predictions, references)
    for key in ("bleu-1", "bleu-2", "bleu-3", "bleu-4", "rouge-l", "distinct-1", "distinct-2", "mean-length"):
        assert values[key] == pytest.approx(expected[key], rel=1e-12, abs=1e-12), key
    assert values["perplexity"] == pytest.approx(np.exp(0.5))
    # a resample that takes item 3 twice and drops item 4 is scored as that corpus
    weights = np.ones((1, 120), dtype=np.int64)
    weights[0, 3], weights[0, 4] = 2, 0
    corpus = [0, 1, 2, 3, 3, *range(5, 120)]
    again = score_responses([predictions[i] for i in corpus], [references[i] for i in corpus])
    resampled = metric_values(stats, weights)
    for key in ("bleu-2", "bleu-4", "distinct-1", "distinct-2", "rouge-l"):
        assert float(resampled[key][0]) == pytest.approx(again[key], rel=1e-12), key


def test_a_planted_difference_is_significant():
    references = _sentences(300, 3)
    generic = ["i hear you ."] * 300
    rng = random.Random(4)
    # b: the reference itself for 40% of the turns, the generic reply otherwise
    better = [r if rng.random() < 0.4 else g for r, g in zip(references, generic, strict=True)]
    diffs = paired_bootstrap(response_stats(generic, references, [3.0] * 300, [5] * 300),
                             response_stats(better, references, [2.0] * 300, [5] * 300), resamples=1000, seed=0)
    for metric in ("bleu-1", "bleu-2", "bleu-4", "rouge-l", "distinct-1", "distinct-2"):
        d = diffs[metric]
        assert d.delta > 0 and d.low > 0 and d.significant, (metric, d)
        assert d.low <= d.delta <= d.high
    assert diffs["perplexity"].delta < 0 and diffs["perplexity"].high < 0 and diffs["perplexity"].significant


def test_pairing_detects_a_small_consistent_improvement():
    """2.5% of the turns get the gold reply, the rest is unchanged: the paired interval excludes 0, while the
    same two systems resampled independently (unpaired) could not tell them apart."""
    references, a = _sentences(300, 12), _sentences(300, 13)
    rng = random.Random(14)
    b = [r if rng.random() < 0.025 else x for r, x in zip(references, a, strict=True)]
    stats_a, stats_b = response_stats(a, references), response_stats(b, references)
    diffs = paired_bootstrap(stats_a, stats_b, resamples=1000, seed=0)
    assert diffs["bleu-2"].significant and diffs["rouge-l"].significant
    unpaired = (metric_values(stats_b, resample_weights(300, 1000, 1))["bleu-2"] -
                metric_values(stats_a, resample_weights(300, 1000, 0))["bleu-2"])
    assert np.percentile(unpaired, 2.5) < 0


def test_identical_predictions_give_an_interval_containing_zero():
    references = _sentences(200, 5)
    predictions = _sentences(200, 6)
    a = response_stats(predictions, references, [1.0] * 200, [3] * 200)
    b = response_stats(list(predictions), references, [1.0] * 200, [3] * 200)
    diffs = paired_bootstrap(a, b, resamples=1000, seed=0)
    assert set(diffs) >= {"bleu-1", "bleu-2", "bleu-4", "rouge-l", "distinct-1", "distinct-2", "perplexity"}
    for d in diffs.values():
        assert d.delta == 0 and d.low <= 0 <= d.high and not d.significant


def test_two_unrelated_systems_of_the_same_quality_are_not_significant():
    references = _sentences(200, 7)
    diffs = paired_bootstrap(response_stats(_sentences(200, 8), references),
                             response_stats(_sentences(200, 9), references), resamples=1000, seed=0)
    assert not diffs["bleu-2"].significant and diffs["bleu-2"].low < 0 < diffs["bleu-2"].high


def test_resamples_are_seeded_and_draw_n_items():
    w = resample_weights(50, 200, seed=3)
    assert w.shape == (200, 50) and (w.sum(axis=1) == 50).all()
    assert (w == resample_weights(50, 200, seed=3)).all() and not (w == resample_weights(50, 200, seed=4)).all()


def _evaluation(folder, predictions, references, nll):
    folder.mkdir()
    records = [{"id": f"d{i}#1", "prediction": p, "reference": r, "gold_nll": x, "gold_tokens": 5}
               for i, (p, r, x) in enumerate(zip(predictions, references, nll, strict=True))]
    (folder / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    scores = score_responses(predictions, references)
    (folder / "scores.json").write_text(json.dumps({"scores": scores, "meta": {"examples": len(records)}}))


def test_compare_models_prints_the_intervals_and_marks_significant_differences(tmp_path):
    references = _sentences(150, 10)
    rng = random.Random(11)
    generic = ["i hear you ."] * 150
    better = [r if rng.random() < 0.4 else g for r, g in zip(references, generic, strict=True)]
    _evaluation(tmp_path / "base", generic, references, [3.0] * 150)
    _evaluation(tmp_path / "same", list(generic), references, [3.0] * 150)
    _evaluation(tmp_path / "trained", better, references, [2.0] * 150)
    result = subprocess.run([sys.executable, "-m", "socialsim", "compare-models", str(tmp_path / "base"),
                             str(tmp_path / "same"), str(tmp_path / "trained")], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any("paired bootstrap 95% interval (1000 resamples" in line for line in lines)
    bleu2 = next(line for line in lines if line.startswith("bleu-2"))
    same, trained, trained_vs_same = bleu2.split()[1:4], bleu2.split()[4:8], bleu2.split()[8:]
    assert same == ["+0.00", "[+0.00,", "+0.00]"]  # identical predictions: no difference, not significant
    assert trained[-1] == "*" and trained_vs_same[-1] == "*"

    data = json.loads(subprocess.run(
        [sys.executable, "-m", "socialsim", "compare-models", str(tmp_path / "base"), str(tmp_path / "trained"),
         "--json"], capture_output=True, text=True, timeout=300).stdout)
    bleu = data["differences"][0]["metrics"]["bleu-2"]
    assert bleu["significant"] and bleu["low"] > 0 and bleu["resamples"] == 1000

    _evaluation(tmp_path / "other", generic[:100], references[:100], [3.0] * 100)
    result = subprocess.run([sys.executable, "-m", "socialsim", "compare-models", str(tmp_path / "base"),
                             str(tmp_path / "other")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "different test turns" in result.stderr and "Traceback" not in result.stderr
