"""``socialsim train``, ``eval-chatbot``, ``compare-models``, ``score``, ``chat`` and ``eval-interactive``."""

import json
from pathlib import Path

import typer

from socialsim.cli.state import STATE
from socialsim.errors import SocialsimError

DATA_HELP = "Corpus with gold supporter replies (any supported format), e.g. ../shared/data/esconv/test.jsonl."
SAMPLES_HELP = "Score a fixed random sample of N supporter turns (seeded by chatbot.generation.seed, default 0)."
DEVICE_HELP = "auto (the first of cuda, mps, cpu available; the default), cuda, mps or cpu (chatbot.device)."
PRECISION_HELP = "auto (bf16 on a GPU that has it, else fp16; fp32 on MPS and CPU), bf16, fp16 or fp32."


def _device_options(device: str | None, precision: str | None) -> dict[str, object]:
    return {"chatbot.device": device, "chatbot.precision": precision}


def train(
    corpus: Path = typer.Argument(..., help="Training corpus (socialsim JSONL, ESConv JSONL, ...)."),
    out: Path = typer.Option(..., "--out", "-o", help="Run folder: checkpoints, curve, run.json and model/."),
    base_model: str | None = typer.Option(
        None, help="Base model: HF folder, hub id, .gguf file (default: the embedded SmolLM2-135M-Instruct)."),
    method: str | None = typer.Option(None, help="lora (default) or full fine-tuning."),
    epochs: float | None = typer.Option(None, help="Passes over the training set."),
    max_steps: int | None = typer.Option(None, help="Stop after N optimiser steps (overrides --epochs)."),
    max_examples: int | None = typer.Option(None, help="Train on a seeded random sample of N examples."),
    max_length: int | None = typer.Option(None, help="Most tokens per example; the oldest turns are dropped."),
    batch_size: int | None = typer.Option(None, help="Examples per step."),
    learning_rate: float | None = typer.Option(None, help="Peak learning rate."),
    include_strategy: bool | None = typer.Option(
        None, "--include-strategy/--no-strategy", help="Put '[Strategy]' before the reply in the target."),
    include_reasoning: bool | None = typer.Option(
        None, "--include-reasoning/--no-reasoning", help="Put the supporter's reasoning before the reply."),
    activation_checkpointing: bool | None = typer.Option(
        None, "--activation-checkpointing/--no-activation-checkpointing",
        help="Recompute activations in the backward pass: less memory, slower."),
    device: str | None = typer.Option(None, help=DEVICE_HELP),
    precision: str | None = typer.Option(None, help=PRECISION_HELP),
    format: str = typer.Option("auto", help="Corpus format (auto-detected by default)."),
    overwrite: bool = typer.Option(False, help="Delete a finished or unfinished run in --out and start over."),
) -> None:
    """Fine-tune a chatbot on the supporter turns of CORPUS (resumes an interrupted run in the same --out)."""
    from socialsim.chatbot.train import train_chatbot

    loaded = STATE.load(**{
        "chatbot.training.base_model": base_model, "chatbot.training.method": method,
        "chatbot.training.epochs": epochs, "chatbot.training.max_steps": max_steps,
        "chatbot.data.max_examples": max_examples, "chatbot.data.max_length": max_length,
        "chatbot.training.batch_size": batch_size, "chatbot.training.learning_rate": learning_rate,
        "chatbot.data.include_strategy": include_strategy, "chatbot.data.include_reasoning": include_reasoning,
        "chatbot.training.activation_checkpointing": activation_checkpointing,
        **_device_options(device, precision),
    })
    result = train_chatbot(corpus, out, loaded.config.chatbot, format=format, overwrite=overwrite)
    if result.resumed_from:
        typer.echo(f"resumed from {result.resumed_from}")
    data = "from the cache" if result.cache_hit else f"tokenised in {result.tokenise_seconds:.1f}s"
    fallback = f" ({result.precision_fallback})" if result.precision_fallback else ""
    typer.echo(f"device {result.device}, {result.precision}{fallback}; training data {data}")
    typer.echo(f"trained on {result.train_examples} examples ({result.validation_examples} for validation): "
               f"{result.steps} steps in {result.train_seconds:.0f}s, {result.tokens} tokens = "
               f"{result.tokens_per_s:.0f} tokens/s")
    valid = f", validation loss {result.validation_loss:.3f}" if result.validation_loss is not None else ""
    typer.echo(f"training loss {result.train_loss:.3f}{valid}")
    typer.echo(f"model: {result.model_dir}  (curve: {result.run_dir}/curve.png)")


def _generation_overrides(batch_size: int | None, max_new_tokens: int | None) -> dict[str, object]:
    return {"chatbot.generation.batch_size": batch_size, "chatbot.generation.max_new_tokens": max_new_tokens}


def eval_chatbot(
    model: str = typer.Argument(..., help="Trained run folder, HF model folder, hub id, .gguf, or 'embedded'."),
    data: Path = typer.Option(..., "--data", "-d", help=DATA_HELP),
    max_samples: int | None = typer.Option(None, help=SAMPLES_HELP),
    out: Path | None = typer.Option(None, "--out", "-o", help="Output folder (default reports/chatbot/MODEL__DATA)."),
    batch_size: int | None = typer.Option(None, help="Prompts generated together."),
    max_new_tokens: int | None = typer.Option(None, help="Most tokens per generated reply."),
    device: str | None = typer.Option(None, help=DEVICE_HELP),
    precision: str | None = typer.Option(None, help=PRECISION_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the scores as JSON."),
) -> None:
    """Generate every supporter turn of --data from its gold history; write predictions and scores (a re-run of
    the same command resumes an interrupted evaluation)."""
    from socialsim.chatbot.evaluate import evaluate_model
    from socialsim.metrics.responses import TOKENIZER_NOTE, format_table

    loaded = STATE.load(**_generation_overrides(batch_size, max_new_tokens), **_device_options(device, precision))
    result = evaluate_model(model, data, loaded.config.chatbot, out_dir=out, max_samples=max_samples)
    if as_json:
        typer.echo(json.dumps(result.scores, indent=2))
        return
    typer.echo(format_table({model: result.scores}))
    env = result.meta["environment"]
    fallback = f" ({env['precision_fallback']})" if env["precision_fallback"] else ""
    typer.echo(f"{TOKENIZER_NOTE}; greedy={not loaded.config.chatbot.generation.do_sample}; "
               f"generation {result.meta['generation_tokens_per_s']} tokens/s on {env['device_name']}, "
               f"{env['precision']}{fallback}; {result.meta['wall_seconds']:.0f}s")
    typer.echo(f"written: {result.out_dir}/predictions.jsonl, {result.out_dir}/scores.json")


def compare_models(
    items: list[str] = typer.Argument(..., help="Evaluation folders / scores.json files, or models to evaluate."),
    data: Path | None = typer.Option(None, "--data", "-d", help=DATA_HELP + " Needed to evaluate models."),
    max_samples: int | None = typer.Option(None, help=SAMPLES_HELP),
    resamples: int = typer.Option(1000, min=100, help="Paired bootstrap resamples of the test turns."),
    seed: int = typer.Option(0, help="Seed of the bootstrap resamples."),
    device: str | None = typer.Option(None, help=DEVICE_HELP),
    precision: str | None = typer.Option(None, help=PRECISION_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print scores and differences as JSON."),
) -> None:
    """One table of scores, then each metric's difference between every two systems with a paired-bootstrap 95%
    interval over the test turns. Existing evaluations are read; models are evaluated first (same data, sample)."""
    from socialsim.chatbot.compare import compare_all, differences_json, format_differences, load_evaluation
    from socialsim.chatbot.evaluate import SCORES_FILE, evaluate_model, load_scores
    from socialsim.metrics.responses import TOKENIZER_NOTE, format_table

    rows: dict[str, dict[str, float]] = {}
    folders: dict[str, Path] = {}
    config = STATE.load(**_device_options(device, precision)).config.chatbot
    for item in items:
        path = Path(item)
        if path.name == SCORES_FILE or (path / SCORES_FILE).is_file():
            rows[item] = load_scores(path)["scores"]
            folders[item] = path.parent if path.name == SCORES_FILE else path
            continue
        if data is None:
            raise SocialsimError(f"{item} has no {SCORES_FILE}: evaluating it needs --data",
                                 "pass --data ../shared/data/esconv/test.jsonl (and --max-samples N)")
        result = evaluate_model(item, data, config, max_samples=max_samples)
        rows[item], folders[item] = result.scores, result.out_dir
    evaluations = [load_evaluation(name, folder) for name, folder in folders.items()]
    differences = compare_all(evaluations, resamples, seed)
    if as_json:
        typer.echo(json.dumps({"scores": rows, "differences": differences_json(differences)}, indent=2))
        return
    typer.echo(format_table(rows))
    typer.echo(TOKENIZER_NOTE)
    if differences:
        typer.echo("")
        typer.echo(format_differences(differences, len(evaluations[0].records)))


def score(
    predictions: Path = typer.Argument(..., help='JSONL: one {"prediction", "reference", "context"?} per line.'),
    as_json: bool = typer.Option(False, "--json", help="Print the scores as JSON."),
) -> None:
    """Score any system's responses with the chatbot metrics (BLEU-1..4, ROUGE-L, Distinct-1/2, length)."""
    from socialsim.metrics.responses import TOKENIZER_NOTE, format_table, read_predictions, score_responses

    STATE.load()  # the input limits
    scores = score_responses(*read_predictions(predictions))
    if as_json:
        typer.echo(json.dumps(scores, indent=2))
    else:
        typer.echo(format_table({predictions.name: scores}))
        typer.echo(TOKENIZER_NOTE)


def chat(
    model: str = typer.Argument("embedded", help="Trained run folder, HF folder, hub id, .gguf or 'embedded'."),
    endpoint: bool = typer.Option(
        False, help="Talk to the configured 'chatbot' role backend (e.g. an OpenAI-compatible server) instead."),
    max_new_tokens: int | None = typer.Option(None, help="Most tokens per reply."),
    sample: bool = typer.Option(True, "--sample/--greedy", help="Sample replies (default) or decode greedily."),
    device: str | None = typer.Option(None, help=DEVICE_HELP),
    precision: str | None = typer.Option(None, help=PRECISION_HELP),
) -> None:
    """Talk with a chatbot in the terminal (empty line or Ctrl-D to quit). Crisis turns get a safe reply."""
    from socialsim.chatbot.chat import BackendResponder, ChatSession, endpoint_sampling
    from socialsim.chatbot.device import choose_runtime
    from socialsim.chatbot.engine import LocalChatbot
    from socialsim.chatbot.model import resolve_model

    loaded = STATE.load(**{"chatbot.generation.max_new_tokens": max_new_tokens,
                           "chatbot.generation.do_sample": sample}, **_device_options(device, precision))
    config = loaded.config
    if endpoint:
        roles = config.backends(use_cache=False)
        backend = roles.get("chatbot")
        responder = BackendResponder(backend, sampling=endpoint_sampling(backend, config.chatbot.generation))
        typer.echo(f"chatbot: {responder.backend.describe()}")
    else:
        source = resolve_model(model)
        runtime = choose_runtime(config.chatbot.device, config.chatbot.precision)
        typer.echo(f"loading {source.spec} on {runtime.describe()} ...")
        responder = LocalChatbot.load(source, config.chatbot.generation, config.chatbot.training.memory_fraction,
                                      runtime)
    session = ChatSession(responder)
    typer.echo("Say how you feel. An empty line ends the conversation.")
    try:
        while True:
            try:
                text = input("you> ").strip()
            except EOFError:
                break
            if not text:
                break
            typer.echo("bot> ", nl=False)
            for piece in session.send(text):
                typer.echo(piece, nl=False)
            typer.echo()
    finally:
        if isinstance(responder, BackendResponder):
            responder.close()


def eval_interactive(
    model: str = typer.Argument("embedded", help="Trained run folder, HF folder, hub id, .gguf or 'embedded'."),
    personas: Path = typer.Option(..., "--personas", "-p", help="Persona bank (JSONL) of held-out seekers; "
                                  "profiles found in the model's training corpus are skipped."),
    n: int = typer.Option(5, "--dialogues", "-n", min=1, help="Dialogues to run (profiles in order, cycled)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for dialogues.jsonl, judgements.jsonl, summary.json "
                             "(a re-run resumes)."),
    endpoint: bool = typer.Option(False, help="Evaluate the configured 'chatbot' role backend (e.g. an "
                                  "OpenAI-compatible server) instead of MODEL."),
    judge: bool = typer.Option(True, "--judge/--no-judge", help="Score the dialogues with the 'judge' role."),
    max_turns: int | None = typer.Option(None, help="Utterances after which a dialogue stops."),
    min_turns: int | None = typer.Option(None, help="Utterances before the seeker may end."),
    device: str | None = typer.Option(None, help=DEVICE_HELP),
    precision: str | None = typer.Option(None, help=PRECISION_HELP),
) -> None:
    """Simulated seekers talk with a chatbot; the judge scores the dialogues; emotion intensity start vs end."""
    import asyncio

    from socialsim.chatbot.device import choose_runtime
    from socialsim.chatbot.engine import LocalChatbot
    from socialsim.chatbot.interactive import backend_respond, evaluate_interactive, held_out, local_respond
    from socialsim.chatbot.model import resolve_model
    from socialsim.personas.bank import read_bank

    config = STATE.load(**{"simulation.max_turns": max_turns, "simulation.min_turns": min_turns},
                        **_device_options(device, precision)).config
    profiles = read_bank(personas)

    async def run() -> dict:
        roles = config.backends(out)
        try:
            if endpoint:
                backend = roles.get("chatbot")
                respond, name, trained_on = backend_respond(backend), backend.model_id, None
            else:
                source = resolve_model(model)
                runtime = choose_runtime(config.chatbot.device, config.chatbot.precision)
                bot = LocalChatbot.load(source, config.chatbot.generation, config.chatbot.training.memory_fraction,
                                        runtime)
                respond, name, trained_on = local_respond(bot), source.spec, source.meta.get("corpus")
            pool = held_out(profiles, trained_on)
            typer.echo(f"{len(pool)} held-out profile(s) of {len(profiles)}; chatbot: {name}")
            result = await evaluate_interactive(pool, n, out, respond, roles, config.simulation,
                                                config.evaluation.judge if judge else None, chatbot=name,
                                                safety=config.safety)
            return result.summary
        finally:
            await roles.aclose()
            typer.echo(roles.stats.summary())

    summary = asyncio.run(run())
    i = summary["intensity"]
    if i.get("dialogues"):
        typer.echo(f"seeker emotion intensity (1-5): start {i['initial_mean']:.2f} -> end {i['final_mean']:.2f} "
                   f"(change {i['change_mean']:+.2f}; improved {i['improved']}, unchanged {i['unchanged']}, "
                   f"worse {i['worse']} of {i['dialogues']})")
    typer.echo(f"terminations: {summary['terminations']}; mean utterances {summary['mean_utterances']:.1f}; "
               f"replies replaced by the safe reply (crisis not addressed): {summary['crisis_turns']}")
    if "judge" in summary:
        j = summary["judge"]
        typer.echo(f"judge ({j['model']}; {j['judged']} judged, {j['failed']} failed), mean score 1-5 [95% CI]:")
        for name, v in [*j["dimensions"].items(), ("overall", j["overall"])]:
            typer.echo(f"  {name:<20} {v['value']:.2f} [{v['low']:.2f}, {v['high']:.2f}]")
    typer.echo(f"written: {out}/dialogues.jsonl, {out}/summary.json")


def register(app: typer.Typer, rich_help_panel: str | None = None) -> None:
    for name, command in (("train", train), ("eval-chatbot", eval_chatbot), ("compare-models", compare_models),
                          ("score", score), ("chat", chat), ("eval-interactive", eval_interactive)):
        app.command(name, rich_help_panel=rich_help_panel)(command)
