"""The report: a self-contained page with escaped corpus text, plus the same tables as Markdown and CSV."""

import asyncio
import base64
import re

import pytest
from typer.testing import CliRunner

from conftest import ESCONV
from scripted import ScriptedBackend
from socialsim.cli.main import app
from socialsim.corpus.dialogue import Turn
from socialsim.corpus.readers import read_corpus
from socialsim.evaluation.config import JudgeConfig
from socialsim.evaluation.judge import Judge, judge_corpora
from socialsim.evaluation.report import build_report
from test_evaluation_filters import BAD, make
from test_evaluation_judge import scores_json

pytestmark = pytest.mark.usefixtures("lexicon_safety")  # scripted text: see conftest.py


def test_report_is_self_contained_and_escapes_corpus_text(tmp_path):
    hostile = make(id="<b>x</b>")
    hostile.topic = "<img src=x onerror=alert(1)>"
    hostile.turns[0] = Turn(speaker="seeker", text="<script>alert('x')</script> I feel bad & alone",
                            disclosed=["situation"], intensity=4)
    esconv = list(read_corpus(ESCONV / "test.jsonl"))[:30]
    sim = [hostile, make(), make(id="third")]  # curve points need 3 dialogues
    judged = asyncio.run(judge_corpora(Judge(ScriptedBackend([scores_json(4)]), JudgeConfig(), tmp_path / "j.jsonl"),
                                       {"sim": sim, "esconv": esconv}, n=2, progress=False))
    page = build_report({"sim": sim, "esconv": esconv}, tmp_path / "rep", judged=judged,
                        judge_model="script", filter_tables={"sim": [["rule", "dropped"], ["leakage", "1"]]})
    html = page.read_text(encoding="utf-8")
    assert "<script" not in html and "&lt;script&gt;" in html and "&amp; alone" in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html
    # Nothing is fetched: every image is inline and there is no external URL.
    assert not re.search(r"(src|href)=\"(?!data:|#)", html)
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(images) == 6  # strategies, lengths, distinct, disclosure, intensity, judge
    assert all(base64.b64decode(img).startswith(b"\x89PNG") for img in images)
    for section in ("Statistics", "Strategies", "Topics", "LLM-judge scores", "Filtering", "Sample dialogues"):
        assert section in html
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "| dialogues | 3 | 30 |" in md and "## LLM-judge scores (model: script)" in md
    assert "<img" not in md and "&lt;img src=x onerror=alert(1)&gt;" in md  # Markdown viewers render raw HTML
    assert "4.00 [4.00, 4.00]" in (tmp_path / "rep" / "judge.csv").read_text()
    assert (tmp_path / "rep" / "summary.csv").read_text().startswith("metric,sim,esconv")


def test_report_cli_after_filter_shows_the_drop_table(tmp_path):
    source = tmp_path / "sim.jsonl"
    source.write_text("".join(d.model_dump_json() + "\n" for d in [make(), BAD["leakage"]]), encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(app, ["filter", str(source), str(tmp_path / "kept.jsonl")]).exit_code == 0
    result = runner.invoke(app, ["report", str(tmp_path / "kept.jsonl"), "--compare", str(ESCONV / "test.jsonl"),
                                 "--out", str(tmp_path / "report")])
    assert result.exit_code == 0, result.output
    html = (tmp_path / "report" / "report.html").read_text()
    assert "Filtering" in html and "1 / 2 (50.0%)" in html and "6,039" in html
    assert "report.html" in result.output


def test_report_counts_flagged_dialogues_and_unaddressed_crisis_turns(tmp_path):
    """Two crisis dialogues (one answered with a crisis line, one with small talk) and a plain one."""
    unaddressed = make(id="unaddressed")
    unaddressed.turns[0] = Turn(speaker="seeker", text="Some nights I want to kill myself.",
                                disclosed=["situation"], intensity=5)
    addressed = unaddressed.model_copy(deep=True)
    addressed.id = "addressed"
    addressed.turns[1] = Turn(speaker="supporter", text="I'm worried about you. Are you safe right now?",
                              strategy="Question")
    build_report({"sim": [unaddressed, addressed, make()]}, tmp_path / "rep")
    rows = (tmp_path / "rep" / "safety.csv").read_text().splitlines()
    assert rows[:2] == ["metric,sim", "dialogues flagged,2 (66.7%)"]
    assert "  with suicidal ideation,2 (66.7%)" in rows and "  with abuse,0 (0.0%)" in rows
    assert rows[-1] == "dialogues with an unaddressed crisis turn,1 (33.3%)"
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "## Crisis safety" in md and "lexicon only" in md
