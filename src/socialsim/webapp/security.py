"""HTTP hardening, as the outermost layer of the app (:class:`Guard`), so it covers every response, errors from
the server's own error handler included:

- a strict Content-Security-Policy with a per-request nonce for the inline scripts, no framing, no sniffing;
- a same-origin proof on every state-changing request: an ``Origin`` equal to this server's scheme and host, or
  (browsers that send no Origin) ``Sec-Fetch-Site: same-origin``, or else the per-session CSRF token (a cookie,
  echoed in the form's ``csrf`` field or an ``X-CSRF-Token`` header). A foreign or ``null`` Origin, any other
  Sec-Fetch-Site, a wrong token, or no proof at all is refused with 403.

Corpus text is untrusted (LLM output or user data): the templates escape it, and the CSP makes sure that even a
missed escape could not run a script (only scripts carrying this response's nonce run). Request bodies are
limited while they stream in by FastAPI's ``max_body_size`` (see ``app.py``).
"""

import secrets
from http.cookies import CookieError, SimpleCookie
from typing import Literal

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOCAL_HOSTS = ["127.0.0.1", "localhost", "::1", "[::1]"]
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_COOKIE = "socialsim_csrf"
CSRF_FIELD = "csrf"
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def security_headers(nonce: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": (
            f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; img-src 'self' data:; "
            "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",  # keeps Origin on same-site POSTs
        "X-Frame-Options": "DENY",
    }


def _session_token(headers: Headers) -> str | None:
    """The CSRF token of the browser's cookie, if it holds a well-formed one."""
    cookie = SimpleCookie()
    try:
        cookie.load(headers.get("cookie", ""))
    except CookieError:
        return None
    morsel = cookie.get(CSRF_COOKIE)
    token = morsel.value if morsel is not None else ""
    return token if len(token) == 43 and set(token) <= _TOKEN_CHARS else None


def same_origin(scope: Scope, headers: Headers, session: str | None) -> Literal["proven", "refused", "form"]:
    """Whether a state-changing request proves it comes from this app's own pages; "form" = only the form's
    CSRF field can still prove it (checked where the form is parsed)."""
    origin = headers.get("origin")
    if origin is not None:
        return "proven" if origin == f"{scope.get('scheme', 'http')}://{headers.get('host', '')}" else "refused"
    site = headers.get("sec-fetch-site")
    if site is not None:
        return "proven" if site == "same-origin" else "refused"
    token = headers.get("x-csrf-token")
    if token is not None:
        return "proven" if session is not None and secrets.compare_digest(token, session) else "refused"
    form = headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
    return "form" if form and session is not None else "refused"


def form_token_ok(state: dict, submitted: str) -> bool:
    """The form's CSRF field, when the request had no other same-origin proof (see :func:`same_origin`)."""
    return not state.get("csrf_required") or secrets.compare_digest(submitted, state.get("csrf", ""))


class Guard:
    """Pure ASGI middleware, wrapped around the whole app (outside Starlette's error handler)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        nonce, session = secrets.token_urlsafe(16), _session_token(headers)
        token = session or secrets.token_urlsafe(32)
        scope["state"] = {**scope.get("state", {}), "nonce": nonce, "csrf": token}

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                for name, value in security_headers(nonce).items():
                    out[name] = value
                if session is None:
                    out.append("Set-Cookie", f"{CSRF_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict")
            await send(message)

        if scope["method"] not in SAFE_METHODS:
            proof = same_origin(scope, headers, session)
            if proof == "refused":
                await PlainTextResponse("cross-origin request refused: no same-origin proof (Origin, "
                                        "Sec-Fetch-Site or the session's CSRF token)",
                                        status_code=403)(scope, receive, send_secured)
                return
            scope["state"]["csrf_required"] = proof == "form"
        await self.app(scope, receive, send_secured)
