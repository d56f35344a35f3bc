"""HTTP hardening: a strict Content-Security-Policy with a per-request nonce for the inline script, no framing,
no sniffing, and a same-origin check on every state-changing request.

Corpus text is untrusted (LLM output or user data): the templates escape it, and the CSP makes sure that even a
missed escape could not run a script (only scripts carrying this response's nonce run).
"""

import secrets
from urllib.parse import urlsplit

from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

LOCAL_HOSTS = ["127.0.0.1", "localhost", "::1", "[::1]"]


class SecurityHeaders(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            origin = request.headers.get("origin")
            if origin and urlsplit(origin).netloc != request.headers.get("host"):
                return PlainTextResponse("cross-origin request refused", status_code=403)
        request.state.nonce = secrets.token_urlsafe(16)
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = (
            f"default-src 'none'; script-src 'nonce-{request.state.nonce}'; style-src 'unsafe-inline'; "
            "img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"  # keeps Origin on same-site POSTs
        response.headers["X-Frame-Options"] = "DENY"
        return response
