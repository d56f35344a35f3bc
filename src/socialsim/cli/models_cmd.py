"""``socialsim models check``."""

import asyncio

import typer

from socialsim.cli.state import STATE
from socialsim.config import ROLES
from socialsim.llm.check import check_model
from socialsim.llm.registry import available_backends, create_backend

app = typer.Typer(help="Check that a model loads and answers.", no_args_is_help=True)


@app.command("check")
def check(
    role: str = typer.Option("supporter", help=f"Which role's backend to check: {', '.join(ROLES)}."),
    backend: str | None = typer.Option(None, help=f"Backend name ({', '.join(available_backends())})."),
    model: str | None = typer.Option(None, help="GGUF path (llamacpp) or model name (openai)."),
    base_url: str | None = typer.Option(None, help="OpenAI-compatible server URL, e.g. http://127.0.0.1:8000/v1."),
    api_key_env: str | None = typer.Option(None, help="Environment variable that holds the API key."),
    n_threads: int | None = typer.Option(None, help="llama.cpp CPU threads."),
    max_tokens: int = typer.Option(64, help="Tokens to generate for the plain reply."),
) -> None:
    """Load the model of ROLE, generate a reply and a JSON object, and print them with tokens/s.

    The request cache is bypassed so the timing is real.
    """
    if role not in ROLES:
        raise typer.BadParameter(f"unknown role {role!r}; choose one of {', '.join(ROLES)}", param_hint="--role")
    flags = {"backend": backend, "model": model, "base_url": base_url, "api_key_env": api_key_env,
             "n_threads": n_threads}
    loaded = STATE.load(**{f"roles.{role}.{k}": v for k, v in flags.items()})
    settings = loaded.config.backend_for(role)
    typer.echo(f"loading {settings.backend} backend for role {role} ...")

    async def run() -> None:
        llm = create_backend(settings)
        try:
            result = await check_model(llm, max_tokens=max_tokens,
                                       max_attempts=loaded.config.structured.max_attempts)
        finally:
            await llm.aclose()
        typer.echo(f"model:      {result.model}")
        typer.echo(f"location:   {result.location}")
        typer.echo(f"reply:      {result.reply}")
        typer.echo(f"speed:      {result.completion_tokens} tokens in {result.seconds:.2f}s = "
                   f"{result.tokens_per_s:.1f} tokens/s")
        typer.echo(f"structured: {result.structured.model_dump_json()} (attempts {result.structured_attempts}, "
                   f"repaired {result.structured_repaired})")
        typer.echo(llm.stats.summary())

    asyncio.run(run())
