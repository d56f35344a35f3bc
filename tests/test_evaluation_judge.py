"""The judge: parsing, re-asks and failures, order swapping, caching/resume (scripted), one real call."""

import asyncio
import json

import pytest

from scripted import ScriptedBackend
from socialsim.corpus.dialogue import Dialogue, Turn
from socialsim.errors import BackendError
from socialsim.evaluation.config import JudgeConfig
from socialsim.evaluation.judge import (
    DIMENSIONS,
    Judge,
    bootstrap_mean,
    combine,
    pair_summary,
    score_summary,
    wilson,
)
from socialsim.evaluation.pairing import pair_by_topic
from socialsim.evaluation.transcript import transcript


def dialogue(id: str, topic: str = "job crisis", marker: str = "") -> Dialogue:
    return Dialogue(id=id, topic=topic, turns=[
        Turn(speaker="seeker", text=f"I lost my job and feel lost. {marker}".strip()),
        Turn(speaker="supporter", text="That sounds hard. What happened?", strategy="Question"),
        Turn(speaker="seeker", text="They cut my whole team."),
        Turn(speaker="supporter", text="It was not your fault.", strategy="Affirmation and Reassurance"),
    ])


def scores_json(score: int = 4) -> str:
    return json.dumps({d: {"reason": f"{d} is fine", "score": score} for d in DIMENSIONS})


def verdict_json(side: str) -> str:
    return json.dumps({"reason": "because", "informativeness": side, "understanding": side,
                       "helpfulness": side, "overall": side})


def run(coro):
    return asyncio.run(coro)


def test_scores_are_parsed_and_summarised(tmp_path):
    backend = ScriptedBackend(lambda req: scores_json(5 if "MARKONE" in req.messages[-1]["content"] else 3))
    judge = Judge(backend, JudgeConfig(), tmp_path / "results.jsonl")
    records = run(judge.score([dialogue("a", marker="MARKONE"), dialogue("b", marker="MARKTWO")], progress=False))
    assert [r["scores"]["coherence"] for r in records] == [5, 3]
    assert records[0]["reasons"]["safety"] == "safety is fine"
    summary = score_summary(records)
    assert summary["judged"] == 2 and summary["failed"] == 0
    assert summary["dimensions"]["helpfulness"].value == 4.0
    # The JSON schema sent to the model restricts scores to the enum 1..5.
    schema = backend.requests[0].json_schema
    assert schema["$defs"]["Rated"]["properties"]["score"]["enum"] == [1, 2, 3, 4, 5]


def test_out_of_range_score_is_reasked_then_counted_as_failed(tmp_path):
    backend = ScriptedBackend([scores_json(7), "not json at all", scores_json(4)])
    judge = Judge(backend, JudgeConfig(), tmp_path / "r.jsonl", max_attempts=3)
    [ok] = run(judge.score([dialogue("a")], progress=False))
    assert not ok["failed"] and ok["attempts"] == 3 and len(backend.requests) == 3

    always_bad = ScriptedBackend(["{\"informativeness\": 9}"])
    judge = Judge(always_bad, JudgeConfig(), tmp_path / "r2.jsonl", max_attempts=2)
    [bad] = run(judge.score([dialogue("a")], progress=False))
    assert bad["failed"] and "no valid DialogueScores after 2 attempts" in bad["error"]
    assert score_summary([bad])["failed"] == 1  # counted, not skipped
    assert json.loads((tmp_path / "r2.jsonl").read_text())["failed"] is True


def test_results_are_cached_and_resumed(tmp_path):
    path = tmp_path / "results.jsonl"
    first = ScriptedBackend([scores_json(4)])
    run(Judge(first, JudgeConfig(), path).score([dialogue("a"), dialogue("b")], progress=False))
    assert len(first.requests) == 2
    again = ScriptedBackend([scores_json(1)])
    records = run(Judge(again, JudgeConfig(), path).score([dialogue("a"), dialogue("b"), dialogue("c")],
                                                         progress=False))
    assert len(again.requests) == 1  # only the new dialogue
    assert [r["scores"]["safety"] for r in records] == [4, 4, 1]
    # A different rubric setting means new judgements, not stale ones.
    changed = ScriptedBackend([scores_json(2)])
    run(Judge(changed, JudgeConfig(max_turn_words=50), path).score([dialogue("a")], progress=False))
    assert len(changed.requests) == 1


def test_a_backend_that_is_down_is_not_a_verdict_and_the_next_run_retries_it(tmp_path):
    """Connection refused after the backend's own retries: no 'failed' judgement is cached for good."""
    path = tmp_path / "results.jsonl"

    def down_for_b(request):
        if "MARKB" in request.messages[-1]["content"]:
            raise BackendError("http://127.0.0.1:9/v1 kept failing after 5 retries: connection refused")
        return scores_json(4)

    judge = Judge(ScriptedBackend(down_for_b), JudgeConfig(), path)
    records = run(judge.score([dialogue("a", marker="MARKA"), dialogue("b", marker="MARKB")], progress=False))
    assert [r["dialogue_id"] for r in records] == ["a"]  # b got no record at all, not a failed one
    assert judge.last_run.failed_now == 1 and "connection refused" in judge.last_run.first_failure
    assert [json.loads(line)["id"] for line in judge.failures_path.read_text().splitlines()] == [judge.score_key(
        dialogue("b", marker="MARKB"))]
    again = ScriptedBackend([scores_json(2)])
    records = run(Judge(again, JudgeConfig(), path).score([dialogue("a", marker="MARKA"),
                                                           dialogue("b", marker="MARKB")], progress=False))
    assert [r["scores"]["safety"] for r in records] == [4, 2] and len(again.requests) == 1


def test_a_torn_last_line_from_a_crash_is_dropped_and_judged_again(tmp_path):
    path = tmp_path / "results.jsonl"
    run(Judge(ScriptedBackend([scores_json(4)]), JudgeConfig(), path).score([dialogue("a")], progress=False))
    with path.open("a") as handle:
        handle.write('{"key": "torn by kill -9", "scor')  # what a crash mid-append leaves
    again = ScriptedBackend([scores_json(2)])
    records = run(Judge(again, JudgeConfig(), path).score([dialogue("a"), dialogue("b")], progress=False))
    assert [r["scores"]["safety"] for r in records] == [4, 2] and len(again.requests) == 1
    assert all(json.loads(line) for line in path.read_text().splitlines())


def test_pairwise_swaps_order_to_cancel_position_bias(tmp_path):
    x, y = dialogue("x", marker="XMARK"), dialogue("y", marker="YMARK")
    biased = ScriptedBackend([verdict_json("A")])  # always prefers the first position
    [record] = run(Judge(biased, JudgeConfig(), tmp_path / "p.jsonl").compare([(x, y)], progress=False))
    first, second = (r.messages[-1]["content"] for r in biased.requests)
    assert first.index("XMARK") < first.index("YMARK") and second.index("YMARK") < second.index("XMARK")
    assert record["outcomes"]["overall"] == "tie" and record["consistent"]["overall"] is False

    def prefers_x(req):
        text = req.messages[-1]["content"]
        return verdict_json("A" if text.index("XMARK") < text.index("YMARK") else "B")

    fair = ScriptedBackend(prefers_x)
    [record] = run(Judge(fair, JudgeConfig(), tmp_path / "q.jsonl").compare([(x, y)], progress=False))
    assert record["outcomes"] == dict.fromkeys(["informativeness", "understanding", "helpfulness", "overall"], "win")
    summary = pair_summary([record])
    assert summary["dimensions"]["overall"]["win"].value == 1.0 and summary["pairs"] == 1


def test_combine_and_intervals():
    assert combine("A", "B") == "win" and combine("B", "A") == "loss"
    assert combine("A", "A") == "tie" and combine("tie", "B") == "tie"
    w = wilson(5, 10)
    assert (round(w.low, 4), round(w.high, 4)) == (0.2366, 0.7634)
    assert wilson(0, 10).low == pytest.approx(0.0, abs=1e-12) and wilson(0, 10).high > 0.2
    b = bootstrap_mean([1, 2, 3, 4, 5])
    assert b.value == 3 and b.low < 3 < b.high


def test_pair_by_topic_matches_topics_first_then_any_topic():
    xs = [dialogue("x1", "grief"), dialogue("x2", "job crisis"), dialogue("x3", "exams")]
    ys = [dialogue("y1", "Job Crisis"), dialogue("y2", "grief"), dialogue("y3", "grief")]
    pairs, unmatched = pair_by_topic(xs, ys)
    assert [(x.id, y.id) for x, y in pairs] == [("x1", "y2"), ("x2", "y1")] and unmatched == 1
    pairs, unmatched = pair_by_topic(xs, ys, any_topic=True)
    assert [(x.id, y.id) for x, y in pairs][-1] == ("x3", "y3") and unmatched == 0
    pairs, _ = pair_by_topic(xs, ys, any_topic=True, limit=1)
    assert [(x.id, y.id) for x, y in pairs] == [("x1", "y2")]


def test_long_dialogue_transcript_keeps_ends_and_marks_the_gap():
    long = Dialogue(id="l", turns=[Turn(speaker="seeker" if i % 2 == 0 else "supporter", text=f"turn{i} " * 20)
                                   for i in range(40)])
    tr = transcript(long, max_words=200, max_turn_words=120)
    assert tr.truncated and "turn0" in tr.text and "turn39" in tr.text and "turns left out" in tr.text
    assert len(tr.text.split()) < 230


@pytest.mark.slow
def test_real_judge_call_with_embedded_model(tmp_path, embedded_backend):
    judge = Judge(embedded_backend, JudgeConfig(max_tokens=700), tmp_path / "r.jsonl")
    [record] = run(judge.score([dialogue("a")], progress=False))
    assert not record["failed"], record.get("error")
    assert set(record["scores"]) == set(DIMENSIONS) and all(1 <= s <= 5 for s in record["scores"].values())
    assert all(len(r) <= 120 for r in record["reasons"].values())


class FairScripted(ScriptedBackend):
    """Registered for this test only, so the CLI path (config -> RoleBackends -> Judge) runs without a model."""

    def __init__(self, config, stats=None):
        super().__init__(self.reply)
        self.stats = stats or self.stats

    @staticmethod
    def reply(req):
        text = req.messages[-1]["content"]
        if "Conversation A" not in text:
            return scores_json(4)
        return verdict_json("A" if text.index("XMARK") < text.index("YMARK") else "B")


def test_judge_cli_scores_and_pairwise(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from socialsim.cli.main import app
    from socialsim.llm import registry

    monkeypatch.setitem(registry._REGISTERED, "scripted-judge", FairScripted)
    xs, ys = tmp_path / "x.jsonl", tmp_path / "y.jsonl"
    xs.write_text("".join(dialogue(f"x{i}", marker="XMARK").model_dump_json() + "\n" for i in range(3)))
    ys.write_text("".join(dialogue(f"y{i}", marker="YMARK").model_dump_json() + "\n" for i in range(2)))
    runner = CliRunner()
    base = ["--set", "roles.judge.backend=scripted-judge", "judge", str(xs), "--out", str(tmp_path / "j"),
            "--no-progress"]
    result = runner.invoke(app, base)
    assert result.exit_code == 0, result.output
    assert "4.00 [4.00, 4.00]" in result.output and "3 / 0" in result.output
    result = runner.invoke(app, [*base, "--pairwise", str(ys)])
    assert result.exit_code == 0, result.output
    assert "1.00 [0.34, 1.00]" in result.output  # 2 wins of 2 pairs, Wilson interval
    assert "without a topic match 1" in result.output
