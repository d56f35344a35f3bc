"""The web app against hostile-but-local clients (issue 18): oversized bodies stopped while they stream in, path
numbers that overflow SQLite, NUL bytes, security headers on every response (errors included), and the
same-origin proof every state-changing request needs."""

import contextlib
import re
import socket
import threading
import time

import pytest
import uvicorn
from fastapi.testclient import TestClient

from conftest import free_port
from socialsim.webapp.app import MAX_FORM_BYTES, build
from socialsim.webapp.security import CSRF_COOKIE
from webapp_data import write_corpus

HEADERS = ("content-security-policy", "x-content-type-options", "x-frame-options", "referrer-policy")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    return build([write_corpus(folder / "c.jsonl", 6)], folder / "db.sqlite")


@pytest.fixture
def client(app):
    """A client that sends no same-origin proof unless a test adds one."""
    with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as c:
        yield c


def task_id(client) -> str:
    created = client.post("/tasks", data={"corpus_a": "0", "corpus_b": "none", "items": "2", "seed": "1",
                                          "dimensions": "understanding"},
                          headers={"origin": "http://127.0.0.1"}, follow_redirects=False)
    assert created.status_code == 303
    return created.headers["location"].rsplit("/", 1)[1]


def rating_form(client, tid: str) -> dict[str, str]:
    """The hidden fields of the rating form of item 0, as the page renders them."""
    page = client.get(f"/annotate/{tid}/0", params={"annotator": "a"}).text
    form = page[page.index('<form method="post"'):]
    return dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', form))


@pytest.mark.parametrize("url", ["/c/0/d/" + "9" * 26, "/c/" + "9" * 26, "/c/" + "9" * 26 + "/stats",
                                 "/c/0/d/-5", "/annotate/T/" + "9" * 23 + "?annotator=a", "/c/0/d/1e3"])
def test_out_of_range_path_numbers_are_422_not_500(client, url):
    response = client.get(url)
    assert response.status_code in (404, 422), response.text[:300]


def test_a_huge_item_number_in_a_post_is_422(client):
    response = client.post(f"/annotate/{task_id(client)}/{'9' * 23}", data={"annotator": "a"},
                           headers={"origin": "http://127.0.0.1"})
    assert response.status_code == 422


@pytest.mark.parametrize("params", [{"q": "\x00"}, {"q": "sad\x00 job"}, {"topic": "\x00"}, {"strategy": "a\x00"},
                                    {"q": '"\x00"'}])
def test_nul_bytes_in_queries_are_not_errors(client, params):
    response = client.get("/c/0", params=params)
    assert response.status_code == 200


def test_nul_bytes_in_forms_are_not_errors(client):
    tid = task_id(client)
    assert client.get(f"/annotate/{tid}/next", params={"annotator": "a\x00b"}).status_code in (200, 303)
    posted = client.post(f"/annotate/{tid}/0", data={"annotator": "a\x00", "token": "\x00", "dim:x": "\x00"},
                         headers={"origin": "http://127.0.0.1"})
    assert posted.status_code in (303, 422)
    named = client.post("/tasks", data={"corpus_a": "0\x00", "name": "\x00"}, headers={"origin": "http://127.0.0.1"})
    assert named.status_code == 422


def test_every_response_carries_the_security_headers(client, app, monkeypatch):
    tid = task_id(client)
    responses = {
        200: client.get("/"),
        303: client.post(f"/annotate/{tid}/0", data={**rating_form(client, tid), "dim:understanding": "3"},
                         headers={"origin": "http://127.0.0.1"}, follow_redirects=False),
        400: client.get("/", headers={"host": "evil.example"}),
        403: client.post("/tasks", data={"corpus_a": "0"}, headers={"origin": "http://evil.example"}),
        404: client.get("/c/9"),
        413: client.post("/tasks", content=b"x" * (MAX_FORM_BYTES + 1), headers={
            "origin": "http://127.0.0.1", "content-type": "application/x-www-form-urlencoded"}),
        422: client.get("/c/0", params={"page": "x"}),
    }
    monkeypatch.setattr(app.state.index, "page", lambda *a, **k: 1 / 0)
    responses[500] = client.get("/c/0")  # Starlette's own error response, outside every route
    for status, response in responses.items():
        assert response.status_code == status, (status, response.text[:200])
        missing = [h for h in HEADERS if h not in response.headers]
        assert not missing, f"{status} lacks {missing}"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


@pytest.mark.parametrize("headers, allowed", [
    ({"origin": "http://127.0.0.1"}, True),
    ({"sec-fetch-site": "same-origin"}, True),
    ({}, False),  # no proof at all (a local script)
    ({"referer": "http://evil.example/page"}, False),
    ({"referer": "http://evil.example/page", "sec-fetch-site": "cross-site"}, False),
    ({"sec-fetch-site": "same-site"}, False),
    ({"sec-fetch-site": "none"}, False),
    ({"origin": "null"}, False),
    ({"origin": "https://127.0.0.1"}, False),  # another scheme is another origin
    ({"origin": "http://127.0.0.1:9"}, False),
    ({"origin": "http://evil.example", "sec-fetch-site": "same-origin"}, False),
    ({"x-csrf-token": "forged" * 7 + "a"}, False),
])
def test_state_changing_requests_need_a_same_origin_proof(client, headers, allowed):
    before = len(client.get("/tasks").text)
    response = client.post("/tasks", data={"corpus_a": "0", "corpus_b": "none", "items": "2"}, headers=headers,
                           follow_redirects=False)
    assert response.status_code == (303 if allowed else 403), response.text[:200]
    chat = client.post("/api/chat", json={"messages": [{"role": "user", "content": "hi"}]}, headers=headers)
    assert (chat.status_code == 403) is not allowed
    if not allowed:
        assert len(client.get("/tasks").text) == before  # nothing was created


def test_the_session_csrf_token_proves_a_form_without_origin_headers(client):
    page = client.get("/tasks").text
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    assert client.cookies.get(CSRF_COOKIE) == token
    data = {"corpus_a": "0", "corpus_b": "none", "items": "2"}
    assert client.post("/tasks", data={**data, "csrf": token}, follow_redirects=False).status_code == 303
    assert client.post("/tasks", data={**data, "csrf": token[::-1]}).status_code == 403
    assert client.post("/tasks", data=data).status_code == 403
    header = client.post("/tasks", data=data, headers={"x-csrf-token": token}, follow_redirects=False)
    assert header.status_code == 303
    client.cookies.clear()  # another session: the old token proves nothing
    assert client.post("/tasks", data={**data, "csrf": token}).status_code == 403


def test_the_annotation_form_carries_the_token(client):
    tid = task_id(client)
    form = rating_form(client, tid)
    assert form["csrf"] == client.cookies.get(CSRF_COOKIE)
    saved = client.post(f"/annotate/{tid}/0", data={**form, "dim:understanding": "4"}, follow_redirects=False)
    assert saved.status_code == 303
    again = rating_form(client, tid)
    assert client.post(f"/annotate/{tid}/0", data={**again, "csrf": "x" * 43, "dim:understanding": "5"}
                       ).status_code == 403


class _Server:
    def __init__(self, app) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "_Server":
        self.thread.start()
        deadline = time.time() + 30
        while not self.server.started and time.time() < deadline:
            time.sleep(0.05)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.mark.parametrize("path", ["/tasks", "/api/chat", "/annotate/x/0"])
def test_an_endless_chunked_body_is_refused_while_it_streams_in(app, path):
    """A 256 MB chunked POST: the 413 arrives long before the body is sent (the old app read it all first)."""
    total, sent = 256 * 1024 * 1024, 0
    chunk = b"a" * 65536
    with _Server(app) as server, socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        origin = f"http://127.0.0.1:{server.port}"
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nOrigin: {origin}\r\n"
                     "Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
        sock.setblocking(False)
        reply = b""
        while sent < total and not reply:
            try:
                sock.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
            except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                time.sleep(0.01)
            with contextlib.suppress(BlockingIOError):
                reply = sock.recv(4096)
        sock.setblocking(True)
        reply += sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert sent < 32 * 1024 * 1024, f"the server answered only after {sent:,} bytes"
