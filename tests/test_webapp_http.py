"""The web app over HTTP (in-process client): escaping, no filesystem access by path, headers, validation."""

import random
import re

import pytest
from fastapi.testclient import TestClient

from socialsim.cli.serve_cmd import _is_loopback
from socialsim.config import load_config
from socialsim.webapp.app import build
from socialsim.webapp.chat import ChatService
from webapp_data import synthetic_dialogue, write_corpus

XSS = '<script>window.__pwned = 1</script> and "><img src=x onerror="window.__pwned = 2">'


@pytest.fixture
def client(tmp_path):
    evil = synthetic_dialogue(777, random.Random(0))
    evil.id = 'evil"><b>id'
    evil.turns[0].text = XSS
    evil.turns[1].reasoning.thought = "<iframe src=javascript:alert(1)>"
    evil.profile.situation = "</dd><script>alert(1)</script>"
    evil.topic = "<i>topic</i>"
    corpus = write_corpus(tmp_path / "c.jsonl", 30, extra=[evil])
    config = load_config(overrides={"cache.path": str(tmp_path / "llm_cache.sqlite")}).config
    app = build([corpus], tmp_path / "db.sqlite", ChatService(config.chatbot, config.backends()))  # loads on use
    # What a browser sends on the app's own requests; test_webapp_hostile.py covers requests without it.
    with TestClient(app, base_url="http://127.0.0.1", headers={"Sec-Fetch-Site": "same-origin"}) as c:
        yield c


def test_untrusted_text_is_escaped_everywhere(client):
    page = client.get("/c/0/d/30").text
    assert "<script>window.__pwned" not in page and "<img src=x" not in page and "<iframe" not in page
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in page
    assert "&#34;&gt;&lt;img src=x onerror=&#34;window.__pwned = 2&#34;&gt;" in page
    assert "&lt;/dd&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page and "evil&#34;&gt;&lt;b&gt;id" in page
    listing = client.get("/c/0", params={"q": "pwned"}).text
    assert "<script>window" not in listing and "&lt;i&gt;topic&lt;/i&gt;" in listing
    assert '<option value="&lt;i&gt;topic&lt;/i&gt;">' in client.get("/c/0").text


def test_strict_headers_and_nonce(client):
    response = client.get("/c/0/d/0")
    csp = response.headers["content-security-policy"]
    assert "script-src 'nonce-" in csp and "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    # The only scripts on any page carry this response's nonce.
    page = client.get("/chat")
    nonce = re.search(r"'nonce-([^']+)'", page.headers["content-security-policy"]).group(1)
    assert re.findall(r"<script[^>]*>", page.text) == [f'<script nonce="{nonce}">']


@pytest.mark.parametrize("url", ["/c/1", "/c/-1", "/c/0/d/31", "/c/0/d/-1", "/c/..%2F..%2Fetc%2Fpasswd",
                                 "/c/0/d/..%2F..%2F..%2Fetc%2Fpasswd", "/..%2F..%2Fetc%2Fpasswd", "/static/../../x",
                                 "/tasks/..%2Fdb.sqlite", "/annotate/nope/0?annotator=a", "/c/abc"])
def test_no_request_path_reaches_a_file(client, url):
    response = client.get(url)
    assert response.status_code in (404, 422)
    assert "root:" not in response.text and "SQLite format" not in response.text


def test_bad_query_parameters_get_an_html_error_page(client):
    response = client.get("/c/0", params={"page": "x", "risk": "<b>maybe</b>"})
    assert response.status_code == 422 and "invalid request parameters: risk, page" in response.text
    assert "<b>maybe" not in response.text and response.headers["content-type"].startswith("text/html")


def test_foreign_host_and_cross_origin_posts_are_refused(client):
    assert client.get("/", headers={"host": "evil.example"}).status_code == 400  # DNS rebinding
    refused = client.post("/tasks", data={"corpus_a": "0"}, headers={"origin": "http://evil.example"})
    assert refused.status_code == 403
    assert client.post("/tasks", data={"corpus_a": "0", "corpus_b": "none", "items": "2"},
                       follow_redirects=False).status_code == 303


def test_task_form_validation(client):
    for data in ({"corpus_a": "9"}, {"corpus_a": "x"}, {"corpus_a": "0", "items": "0"},
                 {"corpus_a": "0", "items": "100000"}):
        response = client.post("/tasks", data=data)
        assert response.status_code == 422 and 'class="error"' in response.text


def test_annotation_round_trip_and_double_submit(client):
    location = client.post("/tasks", data={"corpus_a": "0", "corpus_b": "none", "items": "2", "seed": "3",
                                           "dimensions": ["coherence", "safety"]}, follow_redirects=False)
    task_id = location.headers["location"].rsplit("/", 1)[1]
    form = client.get(f"/annotate/{task_id}/next", params={"annotator": "ann 1"})
    assert '<span class="chip' not in form.text and '<details class="reasoning' not in form.text  # blind: text only
    token = re.search(r'name="token" value="([^"]+)"', form.text).group(1)
    data = {"annotator": "ann 1", "token": token, "dim:coherence": "4", "dim:safety": "5"}
    first = client.post(f"/annotate/{task_id}/0", data=data, follow_redirects=False)
    second = client.post(f"/annotate/{task_id}/0", data=data, follow_redirects=False)
    assert first.status_code == second.status_code == 303
    csv_rows = client.get(f"/tasks/{task_id}/export.csv").text.strip().splitlines()
    assert len(csv_rows) == 3  # header + one row per dimension, not two
    bad = client.post(f"/annotate/{task_id}/1", data={**data, "token": token + "2", "dim:safety": "9"})
    assert bad.status_code == 422 and "safety" in bad.text
    assert client.post(f"/annotate/{task_id}/7", data=data).status_code == 404
    summary = client.get(f"/tasks/{task_id}/export.json").json()
    assert summary["dimensions"]["coherence"]["mean"] == 4.0 and summary["annotators"] == {"ann 1": 1}


def test_loopback_detection():
    assert all(_is_loopback(h) for h in ("127.0.0.1", "localhost", "::1", "127.0.0.2"))
    assert not any(_is_loopback(h) for h in ("0.0.0.0", "192.168.1.5", "example.org", "::"))


def test_chat_api_validates_messages(client):
    assert client.post("/api/chat", json={"messages": []}).status_code == 422
    assert client.post("/api/chat", json={"messages": [{"role": "system", "content": "x"}]}).status_code == 422
    assert client.post("/api/chat", json={"messages": [{"role": "user", "content": "x" * 5000}]}).status_code == 422
    assert client.post("/api/chat", json={"messages": [{"role": "assistant", "content": "hi"}]}).status_code == 422


@pytest.mark.slow
def test_chat_with_the_embedded_model_and_the_crisis_safety_net(client):
    from socialsim.safety import addresses_safety

    crisis = client.post("/api/chat", json={"messages": [{"role": "user", "content": "I want to kill myself."}]})
    assert crisis.status_code == 200 and addresses_safety(crisis.json()["reply"])
    calm = client.post("/api/chat", json={"messages": [
        {"role": "user", "content": "I failed my exam and I feel stupid."}]}).json()
    assert calm["reply"].strip() and calm["safety_net"] is False


@pytest.mark.usefixtures("lexicon_safety")
def test_risk_flags_show_in_the_list_and_on_the_dialogue_page_and_filter_it(client):
    listing = client.get("/c/0", params={"risk": "unaddressed"}).text
    assert listing.count('<span class="chip risk">self harm</span>') == 3  # rows 3, 13, 23 of 31
    assert 'title="a flagged seeker turn got no real guidance">unaddressed</span>' in listing
    assert "sim-00003" in listing and "sim-00004" not in listing
    page = client.get("/c/0/d/3").text
    assert 'title="flagged by the safety net (lexicon)">self harm</span>' in page and "safety not addressed" in page
    assert "safety not addressed" not in client.get("/c/0/d/4").text
