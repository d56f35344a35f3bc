"""End to end in headless Chromium (Debian's /usr/bin/chromium driven by Playwright): the real `socialsim serve`
process, a user browsing a corpus, an annotator completing a task, a server restart, the export.
"""

import csv
import io
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from conftest import free_port
from webapp_data import synthetic_dialogue, write_corpus

CHROMIUM = "/usr/bin/chromium"
XSS = '<script>window.__pwned = 1</script> "><img src=x onerror="window.__pwned = 2">'

# CI (.ci/run installs chromium) never skips: a missing browser fails there.
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("CI"),
                                reason="needs Debian's chromium: apt-get install chromium (.ci/run does)")


class Server:
    """`socialsim serve` in a subprocess on a free port; restartable on the same database."""

    def __init__(self, corpus: Path | list[str], db: Path, cache: Path) -> None:
        self.corpora = [str(c) for c in corpus] if isinstance(corpus, list) else [str(corpus)]
        self.db, self.cache, self.port = db, cache, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "socialsim", "--set", f"cache.path={self.cache}", "serve",
             *[a for c in self.corpora for a in ("--corpus", c)], "--port", str(self.port), "--db", str(self.db)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "NO_COLOR": "1"})
        deadline = time.time() + 180  # importing the CLI alone takes tens of seconds on a loaded machine
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"socialsim serve exited: {self.proc.stdout.read()}")
            try:
                if httpx.get(self.url + "/", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("socialsim serve did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("webapp")
    evil = synthetic_dialogue(777, random.Random(0))
    evil.id = "evil-1"
    evil.turns[0].text = XSS
    evil.turns[1].reasoning.thought = '"><img src=y onerror="window.__pwned = 3">'
    server = Server(write_corpus(tmp / "corpus.jsonl", 60, extra=[evil]), tmp / "ratings.sqlite",
                    tmp / "llm_cache.sqlite")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def pair_server(tmp_path_factory):
    """Two corpora whose dialogues differ in length (20 and 40 utterances), as simulated vs ESConv do."""
    tmp = tmp_path_factory.mktemp("pairs")
    rng = random.Random(1)
    long = tmp / "long.jsonl"
    long.write_text("".join(synthetic_dialogue(100 + i, rng, turns=40).model_dump_json() + "\n" for i in range(6)))
    server = Server([f"ours={write_corpus(tmp / 'short.jsonl', 6)}", f"theirs={long}"], tmp / "ratings.sqlite",
                    tmp / "llm_cache.sqlite")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.dialogs = dialogs
    yield page
    context.close()


def test_browse_filter_page_and_open_a_dialogue(server, page):
    page.goto(server.url + "/")
    page.click("text=corpus.jsonl")
    assert "61 matching" in page.inner_text("#count")
    assert page.locator("#dialogues tr").count() == 26  # header + 25 rows
    with page.expect_navigation():
        page.click("a[rel=next]")
    assert "page 2 of 3" in page.inner_text("#count")
    page.select_option("select[name=topic]", "problems with friends")
    page.select_option("select[name=risk]", "yes")
    with page.expect_navigation():
        page.click("button:has-text('Filter')")
    assert page.url.endswith("/c/0?topic=problems+with+friends&risk=yes")  # unset filters stay out of the URL
    ids = page.locator("#dialogues td:nth-child(2) a").all_inner_texts()
    assert ids and all(int(i.split("-")[1]) % 10 == 3 for i in ids)  # every 10th (from 3) is flagged
    page.fill("input[name=q]", "hurting myself")
    with page.expect_navigation():
        page.click("button:has-text('Filter')")
    assert page.locator("#dialogues td:nth-child(2) a").all_inner_texts() == ids  # the risky turn's words
    page.click(f"text={ids[0]}")
    assert page.inner_text("#dialogue-id") == ids[0]
    assert "Seeker profile" in page.inner_text("aside.profile")
    assert page.locator("aside.profile dd.disclosed").count() >= 1
    assert page.locator("aside.profile svg polyline").count() == 1  # intensity over turns
    strategy_chips = ".turn.supporter .chip:not(.risk):not(.tag)"
    assert page.locator(strategy_chips).count() == 10  # one strategy chip per supporter turn
    assert page.locator(".turn.seeker .chip.risk").count() >= 1
    # the reply to the flagged seeker turn says whether it gave real guidance
    assert page.locator(".turn.supporter .chip", has_text="safety").count() >= 1
    reasoning = page.locator("details.reasoning").first
    assert not reasoning.locator("dl").is_visible()  # collapsed until opened
    reasoning.locator("summary").click()
    assert reasoning.locator("dl").is_visible() and "Thought" in reasoning.inner_text()


def test_script_and_attribute_injection_render_as_text(server, page):
    page.goto(server.url + "/c/0/d/60")
    first = page.locator(".turn .text").first.inner_text()
    assert first == XSS  # shown verbatim, as text
    page.locator("details.reasoning summary").first.click()
    assert 'onerror="window.__pwned = 3"' in page.locator("details.reasoning").first.inner_text()
    assert page.locator("#conversation img, #conversation script").count() == 0
    page.wait_for_timeout(300)
    assert page.evaluate("window.__pwned") is None and page.dialogs == []


def _rate_current_item(page, choice: str) -> None:
    for radio in page.locator(f"#rating input[type=radio][value='{choice}']").all():
        radio.check()
    with page.expect_navigation():  # to the next item (after the POST's redirects)
        page.dblclick("#submit")  # a double click must not store anything twice


def test_annotation_task_survives_a_restart_and_exports(server, page):
    page.goto(server.url + "/tasks")
    page.fill("input[name=name]", "pilot")
    page.select_option("select[name=corpus_b]", "0")
    page.fill("input[name=items]", "2")
    page.fill("input[name=seed]", "5")
    for box in page.locator("input[name=dimensions]").all()[2:]:
        box.uncheck()  # keep two dimensions: informativeness, understanding
    page.click("button:has-text('Create task')")
    link = page.get_attribute("#annotator-link", "href")
    task_id = link.rstrip("/").rsplit("/", 1)[1]

    page.goto(link)
    page.fill("#annotator", "alice")
    with page.expect_navigation():
        page.click("button:has-text('Start')")
    assert "item 1 of 2" in page.inner_text("main")
    _rate_current_item(page, "left")
    assert "item 2 of 2" in page.inner_text("main")
    _rate_current_item(page, "tie")
    assert "All 2 items" in page.inner_text("#done")

    server.stop()
    server.start()  # same database file

    page.goto(f"{server.url}/tasks/{task_id}")
    assert "alice 2/2" in page.inner_text("main")
    page.goto(f"{server.url}/annotate/{task_id}/0?annotator=alice")
    assert page.is_checked("input[name='dim:informativeness'][value=left]")
    page.goto(f"{server.url}/tasks/{task_id}")
    with page.expect_download() as download:
        page.click("#export-csv")
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert len(rows) == 4 and {r["annotator"] for r in rows} == {"alice"}
    assert sorted(r["value"] for r in rows if r["item_no"] == "1") == ["tie", "tie"]
    with page.expect_download() as download:
        page.click("#export-json")
    result = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert result["dimensions"]["informativeness"]["judgements"] == 2
    assert result["dimensions"]["informativeness"]["ties"] == 1


def test_pairwise_form_stays_in_view_beside_both_conversations(pair_server, page):
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(pair_server.url + "/tasks")
    page.select_option("select[name=corpus_a]", "0")
    page.select_option("select[name=corpus_b]", "1")
    page.fill("input[name=items]", "2")
    page.fill("input[name=seed]", "2")
    page.click("button:has-text('Create task')")  # every rubric dimension (9)
    assert "Corpus A = ours, corpus B = theirs" in page.inner_text("main")
    page.goto(page.get_attribute("#annotator-link", "href"))
    page.fill("#annotator", "bob")
    with page.expect_navigation():
        page.click("button:has-text('Start')")

    left, right = page.locator("#side-1").bounding_box(), page.locator("#side-2").bounding_box()
    assert abs(left["y"] - right["y"]) < 1 and left["x"] + left["width"] <= right["x"]  # side by side
    assert left["height"] > 400 and abs(left["height"] - right["height"]) < 1
    assert page.locator("#side-1 .turn").count() == page.locator("#side-2 .turn").count() == 20  # cut to equal
    assert page.locator("#cut-note").is_visible()
    # The page itself does not scroll: the conversations scroll inside their panes, the form stays where it is.
    assert page.evaluate("document.documentElement.scrollHeight") <= 800
    form = page.locator("#rating").bounding_box()
    assert form["x"] >= right["x"] + right["width"] and form["y"] >= 0 and form["y"] + form["height"] <= 800
    submit = page.locator("#submit").bounding_box()
    assert submit["y"] + submit["height"] <= 800 and page.locator("#submit").is_visible()
    page.locator("#side-2").evaluate("pane => pane.scrollTo(0, pane.scrollHeight)")
    page.mouse.wheel(0, 3000)
    assert page.locator("#submit").bounding_box() == submit and page.locator(".dim").first.is_visible()

    # Keyboard only: 1 = left, 2 = right, 0 = equal for each question in turn, then Enter saves.
    keys = "120120120"
    assert page.locator(".dim").count() == len(keys)
    for key in keys:
        page.keyboard.press(key)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "item 2 of 2" in page.inner_text("#rating")
    task_id = page.url.split("/annotate/")[1].split("/")[0]
    result = httpx.get(f"{pair_server.url}/tasks/{task_id}/export.json").json()
    assert result["dimensions"]["informativeness"]["judgements"] == 1
    assert sum(result["dimensions"][d]["ties"] for d in result["dimensions"]) == 3


def test_chat_crisis_message_gets_the_safety_reply(server, page):
    page.goto(server.url + "/chat")
    page.fill("#message", "I have been thinking about ending my life")
    page.click("#send")
    reply = page.locator(".turn.supporter").last
    reply.locator(".chip.risk").wait_for()
    from socialsim.safety import crisis_reply

    assert reply.locator(".text").inner_text() == crisis_reply()
