"""The quality measures where users see them: `socialsim stats`, `socialsim report` and the web app's stats page,
each with a reference corpus (real ESConv read from ../shared at test time; the corpus under test is synthetic)."""

import re
import time

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from conftest import ESCONV
from socialsim.cli.main import app
from socialsim.webapp.app import build
from webapp_data import write_corpus

MEASURES = ("cue-label share of seeker turns", "profile-copy rate", "repetition rate", "filter retention",
            "realism AUC, seekers vs", "realism AUC, supporters vs", "strategy agreement",
            "profile fields disclosed, measured")


def small_reference(tmp_path):
    path = tmp_path / "reference.jsonl"  # 40 ESConv dialogues, written at test time (never committed)
    path.write_text("".join((ESCONV / "valid.jsonl").read_text(encoding="utf-8").splitlines(True)[:40]))
    return path


def test_stats_prints_every_quality_measure_with_intervals(tmp_path):
    corpus = write_corpus(tmp_path / "sim.jsonl", 12)
    result = CliRunner().invoke(app, ["stats", str(corpus), "--reference", str(small_reference(tmp_path)),
                                      "--no-strategies"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for measure in MEASURES:
        row = next((line for line in lines if line.startswith(measure)), None)
        assert row is not None and re.search(r"\[\d", row), (measure, row)
    realism = next(line for line in lines if line.startswith("realism AUC, seekers"))
    assert float(re.search(r"\| +(0\.\d\d|1\.00) \[", realism).group(1)) > 0.9  # random words are easy to spot


def test_report_has_the_quality_section(tmp_path):
    corpus = write_corpus(tmp_path / "sim.jsonl", 12)
    result = CliRunner().invoke(app, ["report", str(corpus), "--reference", str(small_reference(tmp_path)),
                                      "--out", str(tmp_path / "rep")])
    assert result.exit_code == 0, result.output
    html = (tmp_path / "rep" / "report.html").read_text()
    assert 'id="quality"' in html and all(m.split(",")[0] in html for m in MEASURES)
    assert "realism AUC" in (tmp_path / "rep" / "quality.csv").read_text()


def test_the_web_app_stats_page_shows_the_quality_measures(tmp_path):
    corpus = write_corpus(tmp_path / "sim.jsonl", 12)
    web = build([corpus], tmp_path / "db.sqlite", None, reference=small_reference(tmp_path))
    with TestClient(web, base_url="http://127.0.0.1") as client:
        deadline = time.time() + 600
        while "computing" in (page := client.get("/c/0/stats").text) and time.time() < deadline:
            time.sleep(1)
    assert "<h2>Quality</h2>" in page, page[-2000:]
    assert all(m.split(",")[0] in page for m in MEASURES)
