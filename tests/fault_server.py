"""A local OpenAI-compatible HTTP server that injects failures, for retry/backoff/429 tests (127.0.0.1 only)."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FaultServer:
    """Serves /v1/chat/completions. ``script`` is a list of actions consumed one per request:
    an int status (500, 429, 401...), "timeout" (sleep past the client's timeout) or "ok"."""

    def __init__(self, script: list, reply: str = '{"ok": true}', sleep_s: float = 2.0) -> None:
        self.script = list(script)
        self.reply, self.sleep_s = reply, sleep_s
        self.requests: list[dict] = []
        self.max_in_flight = 0
        self._in_flight = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server._lock:
                    server.requests.append(body)
                    action = server.script.pop(0) if server.script else "ok"
                    server._in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server._in_flight)
                try:
                    if action == "reject_json_schema" and body.get("response_format", {}).get("type") == "json_schema":
                        self._send(400, {"error": {"message": "response_format type json_schema is not supported"}})
                        return
                    if action == "reject_json_schema":
                        action = "ok"
                    if action == "timeout":
                        time.sleep(server.sleep_s)
                        action = "ok"
                    if isinstance(action, float):
                        time.sleep(action)
                        action = "ok"
                    if action == "ok":
                        payload = {"model": body.get("model"), "choices": [
                            {"message": {"role": "assistant", "content": server.reply},
                             "finish_reason": "stop"}], "usage": {"prompt_tokens": 5, "completion_tokens": 3}}
                        self._send(200, payload)
                    else:
                        self._send(int(action), {"error": {"message": f"injected {action}"}},
                                   {"Retry-After": "0"} if action == 429 else {})
                finally:
                    with server._lock:
                        server._in_flight -= 1

            def _send(self, status, payload, headers=None):
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "FaultServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
