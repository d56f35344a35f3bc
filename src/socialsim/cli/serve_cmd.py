"""``socialsim serve``: the local web app (corpus browser, human evaluation, chat)."""

import errno
import ipaddress
import socket
import time
from pathlib import Path

import typer

from socialsim.cli.state import STATE
from socialsim.errors import SocialsimError

DEFAULT_DB = Path(".socialsim/annotations.sqlite")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to host:port, or one clear error when the port is taken (before anything is printed)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise SocialsimError(f"port {port} on {host} is already in use",
                                 "choose another with --port N, or stop the program that uses it") from None
        raise SocialsimError(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                             "check --host (an address of this machine)") from None
    return sock


def serve(
    corpus: list[str] = typer.Option([], "--corpus", help="Corpus JSONL to browse, as PATH or NAME=PATH "
                                     "(repeatable; any supported format: socialsim, esconv, ...). The name labels it "
                                     "everywhere (default: a short unique path). Served as /c/0, /c/1, ... in this "
                                     "order."),
    model: str | None = typer.Option(None, "--model", help="Chat with this trained model (a `socialsim train` "
                                     "folder, a .gguf, a hub id); unset = the config's chatbot role backend."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind. Anything but loopback needs "
                             "--allow-remote."),
    port: int = typer.Option(8765, "--port", min=1, max=65535, help="Port to listen on."),
    allow_remote: bool = typer.Option(False, "--allow-remote", help="Allow binding a non-loopback address: "
                                      "anyone who reaches it can read the corpora and the ratings (no login)."),
    db: Path = typer.Option(DEFAULT_DB, "--db", help="SQLite file of evaluation tasks and ratings (kept across "
                            "restarts); corpus indexes are cached in an index/ folder beside it.", dir_okay=False),
    judge: list[Path] = typer.Option([], "--judge", help="judgements.jsonl written by `socialsim judge` (repeatable): "
                                     "judge scores in the list, the dialogue page and beside human ratings."),
    format: str = typer.Option("auto", "--format", help="Corpus format of every --corpus (auto = detect)."),
    no_chat: bool = typer.Option(False, "--no-chat", help="Turn the chat page off."),
) -> None:
    """Start the web app: browse corpora, run human evaluations, chat with a chatbot."""
    import uvicorn

    from socialsim.webapp.app import build
    from socialsim.webapp.chat import ChatService

    if not _is_loopback(host) and not allow_remote:
        raise SocialsimError(f"refusing to bind {host}: the app has no login and would expose the corpora and "
                             "ratings", "keep the default 127.0.0.1, or add --allow-remote if you mean it")
    config = STATE.load().config
    sock = listen(host, port)
    started = time.perf_counter()
    chat = None if no_chat else ChatService(config.chatbot, config.backends(db.parent), model)
    app = build(list(corpus), db, chat, allow_remote=allow_remote, format=format, judgements=list(judge),
                index_cache=db.parent / "index")
    index = app.state.index
    for c in index.corpora:
        typer.echo(f"corpus {c.name}: {c.path} ({c.format}, {c.size:,} dialogues, "
                   f"{'index reused' if c.cached else 'indexed now'})")
    judged = len(app.state.judgements.scores)
    typer.echo(f"ready in {time.perf_counter() - started:.1f}s; ratings in {db}"
               + (f"; judge scores for {judged:,} dialogues" if judge else ""))
    if not _is_loopback(host):
        typer.secho(f"warning: serving on {host}:{port} to other machines, with no login: anyone who can reach "
                    "it can read the corpora, create tasks and see the ratings.", fg="yellow", err=True)
    shown = f"[{host}]" if ":" in host else host
    typer.echo(f"open http://{shown}:{port}/  (Ctrl-C to stop)")
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
