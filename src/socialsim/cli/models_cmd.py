"""``socialsim models check``."""

import asyncio
import subprocess
from pathlib import Path

import typer

from socialsim.cli.state import STATE
from socialsim.config import ROLES
from socialsim.errors import SocialsimError
from socialsim.llm.check import check_model
from socialsim.llm.registry import available_backends, create_backend

app = typer.Typer(help="Check that a model loads and answers; build the local llama.cpp backend.",
                  no_args_is_help=True)


def _probe_native(model: str | None) -> None:
    """Decode a few tokens in a child process first: a llama.cpp built for another CPU crashes there, not here."""
    from pathlib import Path

    from socialsim.llm.embedded import embedded_model_path
    from socialsim.llm.native_probe import ensure_native_ok

    path = Path(model).expanduser() if model else embedded_model_path()
    if not path.is_file():
        return  # the backend reports the missing file with its own hint
    report = ensure_native_ok(path, fresh=True)
    typer.echo(f"native probe: ok ({report.get('system_info', '')})")


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
    if settings.backend == "llamacpp":
        _probe_native(settings.model)
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


@app.command("build-llama")
def build_llama(
    wheel_dir: Path | None = typer.Option(
        None, help="Folder of built wheels, one subfolder per set of flags (default: ~/.cache/socialsim/wheels)."),
    rebuild: bool = typer.Option(False, help="Compile again even if a wheel for these flags was built before."),
    print_flags: bool = typer.Option(False, help="Only print the CMake flags used on this machine."),
) -> None:
    """Compile llama-cpp-python for any CPU of this architecture (no -march=native, no AMX) and install it.

    Use it when `models check` reports a native crash, or after `pip install 'socialsim[local]'` compiled the
    library for the build machine only. The wheel is kept in a folder keyed by the flags, so pip never reuses a
    wheel built with other flags.
    """
    from socialsim.llm.llamacpp_build import build_and_install, portable_cmake_args

    if print_flags:
        typer.echo(" ".join(portable_cmake_args()))
        return
    try:
        wheel = build_and_install(wheel_dir, rebuild=rebuild, echo=typer.echo)
    except subprocess.CalledProcessError as exc:
        raise SocialsimError(f"building llama-cpp-python failed (pip exited with {exc.returncode})",
                             "pip's output is above; a C++ compiler and CMake are needed") from None
    typer.echo(f"installed {wheel.name}; check it with `socialsim models check`")
