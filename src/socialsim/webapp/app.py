"""The FastAPI application: corpus browser, human evaluation, chat. Server-rendered Jinja2, autoescaped.

Corpora are addressed by their number on the command line (``/c/0``), dialogues by their row in the index
(``/c/0/d/17``), tasks by an unguessable id: no request names a file, so none can reach one outside the corpora.
"""

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs, urlencode

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader, StrictUndefined
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp

from socialsim.corpus.index import CorpusIndex, Filters
from socialsim.errors import SocialsimError
from socialsim.evaluation.human import AnnotationStore, SubmissionError, export, new_token, sample_task
from socialsim.evaluation.human.results import to_csv, to_json
from socialsim.evaluation.human.rubric import CHOICES, DIMENSIONS, RUBRIC, SCORE_ANCHORS, SCORES
from socialsim.evaluation.human.store import MAX_COMMENT
from socialsim.evaluation.judgements import Judgements, load_judgements
from socialsim.safety import RISK_KINDS
from socialsim.webapp.chat import MAX_MESSAGE_CHARS, ChatService
from socialsim.webapp.security import CSRF_FIELD, LOCAL_HOSTS, Guard, form_token_ok
from socialsim.webapp.stats import StatsCache
from socialsim.webapp.views import dialogue_view, field_title, strategy_class

PER_PAGE = 25
MAX_FORM_BYTES = 64 * 1024  # every request body, enforced while it streams in (FastAPI's max_body_size)
MAX_CHAT_BYTES = 1024 * 1024  # /api/chat: up to 200 messages of 2,000 characters as JSON
MAX_TASK_ITEMS = 500
# Path numbers (corpus, row, item) are bounded so that no value can overflow SQLite's 64-bit integers: an
# out-of-range one is a 422, never a 500.
Index = Annotated[int, PathParam(ge=0, le=2**62)]


def _templates() -> Jinja2Templates:
    env = Environment(loader=PackageLoader("socialsim.webapp", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals.update(field_title=field_title, strategy_class=strategy_class, rubric=RUBRIC, risk_kinds=RISK_KINDS)
    return Jinja2Templates(env=env)


async def _form(request: Request) -> dict[str, list[str]]:
    """An urlencoded form body (no multipart: nothing here uploads files), with the same-origin proof of a
    request that carried no Origin or Sec-Fetch-Site header: the session's CSRF token in its ``csrf`` field."""
    body = await request.body()
    try:
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=200)
    except (UnicodeDecodeError, ValueError):
        raise HTTPException(400, "malformed form") from None
    if not form_token_ok(request.scope["state"], (form.get(CSRF_FIELD) or [""])[0]):
        raise HTTPException(403, "cross-origin request refused: the form's CSRF token does not match the session")
    return form


class _GuardedApp(FastAPI):
    """A FastAPI app whose outermost layer is :class:`Guard`, so even the server's own error responses carry
    the security headers."""

    def build_middleware_stack(self) -> ASGIApp:
        return Guard(super().build_middleware_stack())


class ChatIn(BaseModel):
    messages: list[dict[Literal["role", "content"], str]] = Field(min_length=1, max_length=200)
    session: str = Field("webchat", pattern=r"^[A-Za-z0-9_-]{1,64}$")


def create_app(index: CorpusIndex, store: AnnotationStore, chat: ChatService | None = None, *,
               allow_remote: bool = False, judgements: Judgements | None = None,
               reference: Path | None = None) -> FastAPI:
    """The web app over already-built parts (the CLI builds them; tests build small ones)."""
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if chat is not None:
            await chat.aclose()

    app = _GuardedApp(title="socialsim", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan,
                      max_body_size=MAX_FORM_BYTES)
    judgements = judgements or Judgements()
    app.state.index, app.state.store, app.state.judgements = index, store, judgements
    if not allow_remote:  # refuses DNS-rebinding requests whose Host is another name for 127.0.0.1
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=LOCAL_HOSTS)
    templates = _templates()
    stats = StatsCache(reference)

    def page(request: Request, name: str, code: int = 200, **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(request, name, {"corpora": index.corpora, "chat_enabled": chat is not None,
                                                          **context}, status_code=code)

    def corpus_or_404(number: int):
        corpus = index.corpus(number)
        if corpus is None:
            raise HTTPException(404, "no such corpus")
        return corpus

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return page(request, "error.html", exc.status_code, status=exc.status_code, message=str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        if request.url.path.startswith("/api/"):  # JSON clients get FastAPI's usual detail
            return await request_validation_exception_handler(request, exc)
        fields = ", ".join(str(e["loc"][-1]) for e in exc.errors())
        return page(request, "error.html", 422, status=422, message=f"invalid request parameters: {fields}")

    # -- corpora -------------------------------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse)
    async def home(request: Request) -> HTMLResponse:
        return page(request, "home.html", tasks=store.tasks()[:5], chat=chat)

    @app.get("/c/{number}", response_class=HTMLResponse)
    async def corpus_list(
        request: Request, number: Index,
        topic: Annotated[str, Query(max_length=200)] = "",
        strategy: Annotated[str, Query(max_length=200)] = "",
        termination: Annotated[str, Query(max_length=200)] = "",
        risk: Literal["", "yes", "no", "unaddressed", "suicidal_ideation", "self_harm", "abuse"] = "",
        min_judge: Annotated[float | None, Query(ge=1, le=5)] = None,
        q: Annotated[str, Query(max_length=200)] = "",
        page_no: Annotated[int, Query(alias="page", ge=1, le=1_000_000)] = 1,
    ) -> HTMLResponse:
        corpus = corpus_or_404(number)
        filters = Filters(topic or None, strategy or None, termination or None,
                          {"yes": True, "no": False}.get(risk), risk if risk not in ("", "yes", "no") else None,
                          min_judge, q or None)
        result = index.page(number, filters, page_no, PER_PAGE)
        params = {k: v for k, v in {"topic": topic, "strategy": strategy, "termination": termination,
                                    "risk": risk, "min_judge": min_judge, "q": q}.items() if v not in ("", None)}
        return page(request, "corpus.html", corpus=corpus, result=result, filters=filters, params=params,
                    query=lambda p: urlencode({**params, "page": p}), risk=risk, min_judge=min_judge, q=q,
                    judged=index.summary(number)["judged"])

    @app.get("/c/{number}/d/{row}", response_class=HTMLResponse)
    async def dialogue_page(request: Request, number: Index, row: Index) -> HTMLResponse:
        corpus = corpus_or_404(number)
        dialogue = index.read(number, row)
        if dialogue is None:
            raise HTTPException(404, "no such dialogue")
        judged = judgements
        return page(request, "dialogue.html", corpus=corpus, row=row, view=dialogue_view(dialogue),
                    judge_scores=judged.scores.get(dialogue.id, {}), judge_reasons=judged.reasons.get(dialogue.id, {}),
                    judge_model=judged.models.get(dialogue.id, ""),
                    prev_row=row - 1 if row > 0 else None, next_row=row + 1 if row + 1 < corpus.size else None)

    @app.get("/c/{number}/stats", response_class=HTMLResponse)
    async def stats_page(request: Request, number: Index) -> HTMLResponse:
        corpus = corpus_or_404(number)
        return page(request, "stats.html", corpus=corpus, summary=index.summary(number), full=stats.get(corpus))

    # -- human evaluation: organiser -----------------------------------------------------------------------
    @app.get("/tasks", response_class=HTMLResponse)
    async def tasks_page(request: Request) -> HTMLResponse:
        return page(request, "tasks.html", tasks=[(t, store.annotators(t.id)) for t in store.tasks()],
                    dimensions=DIMENSIONS, error=None)

    @app.post("/tasks")
    async def create_task(request: Request) -> Response:
        form = await _form(request)

        def one(key: str) -> str:
            return (form.get(key) or [""])[0].strip()

        try:
            name = one("name")[:120] or "evaluation"
            a = int(one("corpus_a"))
            b = int(one("corpus_b")) if one("corpus_b") not in ("", "none") else None
            n = int(one("items") or 10)
            seed = int(one("seed")) if one("seed") else random.randrange(1_000_000)
            dimensions = [d for d in form.get("dimensions", []) if d in DIMENSIONS] or list(DIMENSIONS)
            if index.corpus(a) is None or (b is not None and index.corpus(b) is None):
                raise SocialsimError("choose served corpora")
            if not 1 <= n <= MAX_TASK_ITEMS:
                raise SocialsimError(f"items must be between 1 and {MAX_TASK_ITEMS}")
            task = sample_task(store, index, name, a, b, n, dimensions, seed)
        except (ValueError, SocialsimError) as exc:
            message = exc.message if isinstance(exc, SocialsimError) else "corpus, items and seed must be numbers"
            return page(request, "tasks.html", 422, tasks=[(t, store.annotators(t.id)) for t in store.tasks()],
                        dimensions=DIMENSIONS, error=message)
        return RedirectResponse(f"/tasks/{task.id}", status_code=303)

    def task_or_404(task_id: str):
        task = store.task(task_id)
        if task is None:
            raise HTTPException(404, "no such task")
        return task

    @app.get("/tasks/{task_id}", response_class=HTMLResponse)
    async def task_page(request: Request, task_id: str) -> HTMLResponse:
        task = task_or_404(task_id)
        return page(request, "task.html", task=task, result=export(store, task_id, judgements),
                    link=str(request.url_for("annotate_start", task_id=task_id)))

    @app.get("/tasks/{task_id}/export.json")
    async def export_json(task_id: str) -> Response:
        task_or_404(task_id)
        return Response(to_json(export(store, task_id, judgements)), media_type="application/json",
                        headers={"Content-Disposition": f'attachment; filename="{task_id}.json"'})

    @app.get("/tasks/{task_id}/export.csv")
    async def export_csv(task_id: str) -> Response:
        task_or_404(task_id)
        return Response(to_csv(export(store, task_id, judgements)), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{task_id}.csv"'})

    # -- human evaluation: annotator -----------------------------------------------------------------------
    @app.get("/annotate/{task_id}", response_class=HTMLResponse, name="annotate_start")
    async def annotate_start(request: Request, task_id: str) -> HTMLResponse:
        return page(request, "annotate_start.html", task=task_or_404(task_id))

    @app.get("/annotate/{task_id}/next")
    async def annotate_next(request: Request, task_id: str,
                            annotator: Annotated[str, Query(max_length=40)] = "") -> Response:
        task = task_or_404(task_id)
        annotator = annotator.strip()
        if not annotator:
            return RedirectResponse(f"/annotate/{task_id}", status_code=303)
        done = store.progress(task_id, annotator) | store.skipped(task_id, annotator)
        todo = next((i for i in range(task.items) if i not in done), None)
        if todo is None:
            return page(request, "annotate_done.html", task=task, annotator=annotator,
                        skips=len(store.skipped(task_id, annotator)))
        return RedirectResponse(f"/annotate/{task_id}/{todo}?{urlencode({'annotator': annotator})}", status_code=303)

    def item_page(request: Request, task_id: str, item_no: int, annotator: str, values: dict[str, str],
                  error: str | None = None, status: int = 200, comment: str | None = None,
                  flagged: bool | None = None) -> HTMLResponse:
        task = task_or_404(task_id)
        item = store.item(task_id, item_no)
        if item is None:
            raise HTTPException(404, "no such item")
        note = store.note(task_id, item_no, annotator)
        return page(request, "annotate_item.html", status, task=task, item=item, annotator=annotator,
                    views=[dialogue_view(d) for d in item.shown], values=values, error=error, token=new_token(),
                    options=CHOICES if task.kind == "pairwise" else SCORES, anchors=SCORE_ANCHORS,
                    comment=comment if comment is not None else (note.comment if note else ""),
                    flagged=flagged if flagged is not None else bool(note and note.flagged),
                    skipped=bool(note and note.skipped), max_comment=MAX_COMMENT,
                    rated=len(store.progress(task_id, annotator)), skips=len(store.skipped(task_id, annotator)))

    @app.get("/annotate/{task_id}/{item_no}", response_class=HTMLResponse)
    async def annotate_item(request: Request, task_id: str, item_no: Index,
                            annotator: Annotated[str, Query(min_length=1, max_length=40)]) -> HTMLResponse:
        return item_page(request, task_id, item_no, annotator, store.screen_values(task_id, item_no, annotator))

    @app.post("/annotate/{task_id}/{item_no}")
    async def annotate_submit(request: Request, task_id: str, item_no: Index) -> Response:
        form = await _form(request)

        def one(key: str) -> str:
            return (form.get(key) or [""])[0]

        annotator, token, comment, flagged = one("annotator"), one("token"), one("comment"), one("flag") == "on"
        values = {k[4:]: v[0] for k, v in form.items() if k.startswith("dim:")}
        try:
            if one("action") == "skip":
                store.skip(task_id, item_no, annotator, token, comment=comment, flagged=flagged)
            else:
                store.submit(task_id, item_no, annotator, values, token, comment=comment, flagged=flagged)
        except SubmissionError as exc:
            if store.task(task_id) is None or store.item(task_id, item_no) is None:
                raise HTTPException(404, exc.message) from None
            return item_page(request, task_id, item_no, annotator[:40], values, exc.message, 422,
                             comment=comment[:MAX_COMMENT], flagged=flagged)
        query = urlencode({"annotator": annotator.strip()})
        return RedirectResponse(f"/annotate/{task_id}/next?{query}", status_code=303)

    # -- chat ----------------------------------------------------------------------------------------------
    @app.get("/chat", response_class=HTMLResponse)
    async def chat_page(request: Request) -> HTMLResponse:
        return page(request, "chat.html", chat=chat, max_chars=MAX_MESSAGE_CHARS)

    @app.post("/api/chat", max_body_size=MAX_CHAT_BYTES)
    async def chat_api(body: ChatIn) -> dict[str, Any]:
        if chat is None:
            raise HTTPException(503, "chat is not enabled on this server")
        history = []
        for message in body.messages:
            role, content = message.get("role"), message.get("content", "")
            if role not in ("user", "assistant") or len(content) > MAX_MESSAGE_CHARS:
                raise HTTPException(422, "messages need role user/assistant and at most "
                                         f"{MAX_MESSAGE_CHARS} characters")
            history.append({"role": role, "content": content})
        try:
            reply = await chat.reply(history, session=body.session)  # type: ignore[arg-type]
        except SocialsimError as exc:
            raise HTTPException(422, exc.message) from None
        return {"reply": reply.text, "safety_net": reply.safety_net, "model": reply.model}

    @app.get("/robots.txt", response_class=PlainTextResponse)
    async def robots() -> str:
        return "User-agent: *\nDisallow: /\n"

    return app


def build(corpora: list[str | Path], db: Path, chat: ChatService | None = None, allow_remote: bool = False,
          format: str = "auto", judgements: list[Path] | None = None, index_cache: Path | None = None,
          reference: Path | None = None) -> FastAPI:
    """Index the corpora, open the annotation database and return the app (what ``socialsim serve`` runs)."""
    judged = load_judgements(judgements or [])
    scores = {did: mean for did in judged.scores if (mean := judged.mean(did)) is not None}
    index = CorpusIndex(corpora, format, scores, index_cache)
    return create_app(index, AnnotationStore(db), chat, allow_remote=allow_remote, judgements=judged,
                      reference=reference)
