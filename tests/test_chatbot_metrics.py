"""Chatbot metrics against values computed by hand (SPEC conventions: NLTK corpus BLEU, method3, ROUGE-L b=1.2)."""

import json
import math

import pytest

from socialsim.errors import InputFileError
from socialsim.metrics.distinct import distinct_n
from socialsim.metrics.overlap import bleu, lcs_length, rouge_l, rouge_l_pair
from socialsim.metrics.responses import read_predictions, score_responses
from socialsim.metrics.tokenize import tokens

HYP = "The cat sat on the mat"
REF = "the cat is on the mat"


def test_bleu_matches_hand_computation():
    # unigrams 5/6, bigrams 3/5, trigrams 1/4, 4-grams 0/3 -> method3 gives 1/(2*3); equal lengths: BP = 1
    h, r = [tokens(HYP)], [tokens(REF)]
    assert bleu(h, r, 1) == pytest.approx(100 * 5 / 6)
    assert bleu(h, r, 2) == pytest.approx(100 * math.sqrt(5 / 6 * 3 / 5))
    assert bleu(h, r, 3) == pytest.approx(100 * (5 / 6 * 3 / 5 * 1 / 4) ** (1 / 3))
    assert bleu(h, r, 4) == pytest.approx(100 * (5 / 6 * 3 / 5 * 1 / 4 * 1 / 6) ** (1 / 4))


def test_bleu_single_token_and_empty_hypotheses():
    # "sad" vs "i am sad": p1 = 1, brevity penalty exp(1 - 3/1); no bigram at all -> method3 p2 = 1/(2*1)
    bp = math.exp(1 - 3)
    assert bleu([["sad"]], [["i", "am", "sad"]], 1) == pytest.approx(100 * bp)
    assert bleu([["sad"]], [["i", "am", "sad"]], 2) == pytest.approx(100 * bp * math.sqrt(0.5))
    assert bleu([[]], [["i", "am", "sad"]], 2) == 0.0  # empty hypothesis: no unigram match
    assert bleu([["no"]], [["yes"]], 4) == 0.0
    assert bleu([], [], 2) == 0.0
    with pytest.raises(ValueError):
        bleu([["a"]], [], 1)


def test_bleu_is_corpus_level_not_a_mean_of_sentences():
    # corpus: matched unigrams (1 + 0) / (1 + 1) hypothesis tokens; hyp length 2 vs ref length 2 -> BP 1
    assert bleu([["a"], ["x"]], [["a"], ["b"]], 1) == pytest.approx(50.0)


def test_rouge_l_matches_hand_computation():
    assert lcs_length(tokens(HYP), tokens(REF)) == 5
    assert rouge_l_pair(tokens(HYP), tokens(REF)) == pytest.approx(5 / 6)  # P = R = 5/6
    # P = 1, R = 2/3: F = (1 + 1.44) P R / (R + 1.44 P)
    assert rouge_l_pair(["the", "cat"], ["the", "cat", "sat"]) == pytest.approx(2.44 * (2 / 3) / (2 / 3 + 1.44))
    assert rouge_l_pair([], ["a"]) == 0.0 and rouge_l_pair(["a"], ["b"]) == 0.0
    assert rouge_l([["a"], ["b"]], [["a"], ["c"]]) == pytest.approx(50.0)  # averaged per response, x100


def test_distinct_and_score_responses():
    assert distinct_n([tokens("I am sad"), tokens("i am ok")], 1) == pytest.approx(100 * 4 / 6)
    assert distinct_n([tokens("I am sad"), tokens("i am ok")], 2) == pytest.approx(100 * 3 / 4)
    assert distinct_n([[]], 2) == 0.0
    s = score_responses([HYP, ""], [REF, "I am here for you."])
    assert s["n"] == 2 and s["mean-length"] == pytest.approx(6 / 2)  # 6 tokens and 0 tokens
    assert s["bleu-1"] == pytest.approx(bleu([tokens(HYP), []], [tokens(REF), tokens("I am here for you.")], 1))
    assert 0 < s["sacrebleu"] < 100
    assert score_responses([REF], [REF])["bleu-4"] == pytest.approx(100.0)


def test_read_predictions_reports_file_and_line(tmp_path):
    good = tmp_path / "p.jsonl"
    good.write_text(json.dumps({"prediction": "hi", "reference": "hello", "context": []}) + "\n")
    assert read_predictions(good) == (["hi"], ["hello"])
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"prediction": "hi", "reference": "x"}) + "\n" + json.dumps({"prediction": 3}) + "\n")
    with pytest.raises(InputFileError, match=r"bad.jsonl, line 2.*'prediction'"):
        read_predictions(bad)


def test_score_command_prints_json_and_reports_bad_lines(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "preds.jsonl"
    path.write_text("".join(json.dumps({"prediction": p, "reference": r}) + "\n"
                            for p, r in [(HYP, REF), ("I hear you", "I hear you, that sounds hard")]))
    run = subprocess.run([sys.executable, "-m", "socialsim", "score", str(path), "--json"], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == pytest.approx(score_responses([HYP, "I hear you"],
                                                                   [REF, "I hear you, that sounds hard"]))
    path.write_text('{"prediction": "x"}\n')
    run = subprocess.run([sys.executable, "-m", "socialsim", "score", str(path)], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 2 and "line 1" in run.stderr and "Traceback" not in run.stderr
