"""``socialsim estimate``: predict tokens, wall time and cost of a large run before paying for it."""

import json
from pathlib import Path

import typer

from socialsim.cli.state import STATE
from socialsim.errors import SocialsimError
from socialsim.llm.registry import available_backends
from socialsim.scale.estimate import (
    Calibration,
    Prices,
    Throughput,
    calibrate_from_corpus,
    estimate,
    format_estimate,
)


def estimate_command(
    n: int = typer.Option(..., "-n", "--dialogues", min=1, help="Dialogues to simulate."),
    corpus: Path | None = typer.Option(
        None, "--corpus", exists=True, help="Calibration: a corpus written by `socialsim simulate` (its "
        "dialogues.jsonl or run folder), e.g. a short run of 10-50 dialogues with the big run's model and settings."),
    calls: float | None = typer.Option(
        None, "--calls-per-dialogue", min=0, help="Without --corpus: LLM calls per dialogue."),
    input_tokens: float | None = typer.Option(
        None, "--input-tokens-per-dialogue", min=0, help="Without --corpus: prompt tokens per dialogue (all calls)."),
    output_tokens: float | None = typer.Option(
        None, "--output-tokens-per-dialogue", min=0, help="Without --corpus: completion tokens per dialogue."),
    prefix_share: float = typer.Option(
        0.0, "--prefix-share", min=0, max=1, help="Without --corpus: the share of prompt tokens that repeat the "
        "role's previous prompt as a prefix (priced with --price-cached-input)."),
    backend: str | None = typer.Option(
        None, help=f"Backend of the big run ({', '.join(available_backends())}); sets the defaults of "
        "--concurrency, --requests-per-minute and --tokens-per-minute from the config (llm.*)."),
    concurrency: int | None = typer.Option(
        None, min=1, help="Requests in flight (default: 1 for llamacpp, llm.max_concurrency for openai)."),
    in_flight: int | None = typer.Option(
        None, min=1, help="Dialogues simulated at once (default: simulation.in_flight); with --ray, summed over "
        "workers."),
    latency_s: float | None = typer.Option(
        None, min=0, help="Seconds per LLM call on the big run's servers (default: measured in the calibration)."),
    output_tokens_per_s: float | None = typer.Option(
        None, min=0, help="Aggregate decode throughput of the servers (e.g. all vLLM replicas), tokens/s."),
    input_tokens_per_s: float | None = typer.Option(
        None, min=0, help="Aggregate prompt (prefill) throughput of the servers, tokens/s."),
    requests_per_minute: float | None = typer.Option(
        None, min=0, help="Endpoint limit in requests/min (default: llm.requests_per_minute)."),
    tokens_per_minute: float | None = typer.Option(
        None, min=0, help="Endpoint limit in tokens/min (default: llm.tokens_per_minute)."),
    price_input: float | None = typer.Option(None, min=0, help="US$ per million input (prompt) tokens."),
    price_cached_input: float | None = typer.Option(
        None, min=0, help="US$ per million cached input tokens (prefix caching discounts): applied to the prompt "
        "tokens that repeat the same role's previous prompt as a prefix, as measured in the calibration corpus "
        "(default: the input price)."),
    price_output: float | None = typer.Option(None, min=0, help="US$ per million output (completion) tokens."),
    price_per_hour: float | None = typer.Option(
        None, min=0, help="US$ per hour of wall time, e.g. the rental price of a self-hosted cluster."),
    as_json: bool = typer.Option(False, "--json", help="Print the estimate as JSON."),
) -> None:
    """Predict tokens, wall time and (with prices) cost of simulating N dialogues, from a calibration corpus (or
    per-dialogue figures) and the serving side's figures. Every bottleneck is shown; the largest is the
    prediction."""
    settings = STATE.load(**{"llm.backend": backend})
    llm, sim = settings.config.llm, settings.config.simulation
    if corpus is not None:
        if corpus.is_dir():
            corpus = corpus / "dialogues.jsonl"
            if not corpus.exists():
                raise SocialsimError(f"{corpus} not found", "pass the run folder of `socialsim simulate` or its file")
        calibration = calibrate_from_corpus(corpus)
    elif None in (calls, input_tokens, output_tokens, latency_s):
        raise SocialsimError("estimate needs a calibration corpus or per-dialogue figures",
                             "pass --corpus RUN_FOLDER, or --calls-per-dialogue, --input-tokens-per-dialogue, "
                             "--output-tokens-per-dialogue and --latency-s")
    else:
        calibration = Calibration(dialogues=0, calls=calls, prompt_tokens=input_tokens,
                                  prompt_tokens_evaluated=input_tokens, completion_tokens=output_tokens,
                                  seconds_per_call=latency_s, turns=0, source="the given per-dialogue figures",
                                  prompt_tokens_prefix=prefix_share * input_tokens)
    throughput = Throughput(
        concurrency=concurrency or getattr(llm, "max_concurrency", 1),
        in_flight=in_flight or sim.in_flight,
        latency_s=latency_s, output_tokens_per_s=output_tokens_per_s, input_tokens_per_s=input_tokens_per_s,
        requests_per_minute=requests_per_minute or getattr(llm, "requests_per_minute", None),
        tokens_per_minute=tokens_per_minute or getattr(llm, "tokens_per_minute", None),
    )
    given = (price_input, price_output, price_per_hour)
    prices = Prices(*(price or 0.0 for price in given), cached_input=price_cached_input) \
        if any(given) or price_cached_input is not None else None
    result = estimate(n, calibration, throughput, prices)
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2))
    else:
        typer.echo(format_estimate(result))
