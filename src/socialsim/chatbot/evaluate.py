"""Evaluation on a corpus with gold replies (ESConv test by default): generate each supporter turn from the gold
history, score against the gold reply, and measure the perplexity of the gold replies.

``max_samples`` takes a seeded random sample (``random.Random(seed).sample`` over the examples in corpus order,
then re-sorted), so a quick run always scores the same turns for every model.

Each supporter turn is an item of one task on the engine, run in batches sorted by prompt length: its prediction
and gold-reply NLL are appended (fsync) to ``predictions.jsonl`` as the batch finishes, so an interrupted
evaluation resumes where it stopped and gives the same scores as an uninterrupted one. ``eval.json`` records what
the predictions were made with; predictions made with other settings are replaced, not mixed in.
"""

import asyncio
import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from socialsim.chatbot.config import ChatbotConfig, DatasetConfig
from socialsim.chatbot.dataset import Example, build_training_set, chat_token_counter, file_sha256, parse_reply
from socialsim.chatbot.device import choose_runtime
from socialsim.chatbot.engine import NLL, LocalChatbot
from socialsim.chatbot.model import ModelSource, resolve_model
from socialsim.corpus.atomic import check_output, write_atomic
from socialsim.corpus.jsonl import iter_jsonl
from socialsim.engine import Item, RunOptions, Task, run_task
from socialsim.errors import InputFileError
from socialsim.metrics.responses import METRICS, TOKENIZER_NOTE, score_responses

PREDICTIONS_FILE, SCORES_FILE, EVAL_FILE = "predictions.jsonl", "scores.json", "eval.json"


@dataclass
class EvalResult:
    out_dir: Path
    scores: dict[str, float]
    meta: dict[str, Any]


def data_options(source: ModelSource, config: ChatbotConfig) -> DatasetConfig:
    """A trained model is prompted exactly as it was trained (target format, length limits); others use config."""
    trained = source.meta.get("data")
    options = DatasetConfig.model_validate(trained) if trained else config.data
    return options.model_copy(update={"validation_fraction": 0.0, "max_examples": None})


def select_sample(examples: list[Example], max_samples: int | None, seed: int) -> list[Example]:
    if not max_samples or max_samples >= len(examples):
        return examples
    return [examples[i] for i in sorted(random.Random(seed).sample(range(len(examples)), max_samples))]


def default_out_dir(source: ModelSource, data: Path, max_samples: int | None) -> Path:
    suffix = f"-n{max_samples}" if max_samples else ""
    return Path("reports") / "chatbot" / f"{source.name}__{data.stem}{suffix}"


def example_id(example: Example) -> str:
    return f"{example.dialogue_id}#{example.turn_index}"


class EvaluationTask(Task[Example, dict[str, Any]]):
    """One item = one supporter turn: the model's reply to its gold history, and the NLL of the gold reply."""

    sinks = {"predictions": "id"}
    label, unit = "generating", "reply"

    def __init__(self, bot: LocalChatbot) -> None:
        self.bot, self.batch_size = bot, bot.generation.batch_size
        self.generated_tokens, self.generation_seconds = 0, 0.0

    def progress(self) -> dict[str, Any]:
        if not self.generation_seconds:
            return {}
        return {"gen tok/s": f"{self.generated_tokens / self.generation_seconds:.0f}"}

    def order(self, items: list[Item[Example]]) -> list[Item[Example]]:
        return sorted(items, key=lambda item: sum(len(m["content"]) for m in item.payload.prompt))  # little padding

    async def run_batch(self, items: Sequence[Item[Example]]) -> list[dict[str, Any]]:
        examples = [item.payload for item in items]
        started = time.perf_counter()
        generated = await asyncio.to_thread(self.bot.generate, [e.prompt for e in examples])
        self.generation_seconds += time.perf_counter() - started
        nll = await asyncio.to_thread(self.bot.gold_nll, examples)
        records = []
        for item, (raw, new_tokens), gold in zip(items, generated, nll, strict=True):
            ex = item.payload
            reply, strategy = parse_reply(raw)
            self.generated_tokens += new_tokens
            records.append({"id": item.id, "dialogue_id": ex.dialogue_id, "turn": ex.turn_index,
                            "context": ex.prompt[1:], "reference": ex.reference,
                            "reference_strategy": ex.strategy, "prediction": reply, "predicted_strategy": strategy,
                            "raw": raw, "generated_tokens": new_tokens, "gold_nll": gold.total,
                            "gold_tokens": gold.tokens})
        return records

    def accept(self, item: Item[Example], result: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        return [("predictions", result)]


def _claim(out: Path, fingerprint: dict[str, Any]) -> bool:
    """Record what the predictions are made with; True when earlier predictions of other settings were removed."""
    run_file, predictions = out / EVAL_FILE, out / PREDICTIONS_FILE
    replaced = False
    if run_file.is_file() and json.loads(run_file.read_text(encoding="utf-8")) != fingerprint:
        predictions.unlink(missing_ok=True)
        replaced = True
    write_atomic(run_file, json.dumps(fingerprint, indent=2, sort_keys=True))
    return replaced


def evaluate_model(model: str | None, data: str | Path, config: ChatbotConfig, *, out_dir: str | Path | None = None,
                   max_samples: int | None = None, progress: bool = True,
                   chatbot: LocalChatbot | None = None) -> EvalResult:
    """Generate and score every (or a sample of) supporter turn of ``data``; write predictions and scores.

    Runs on ``chatbot``'s device, or loads ``model`` on the one ``config.device`` / ``config.precision`` pick."""
    data = Path(data)
    started = time.perf_counter()
    source = chatbot.source if chatbot and chatbot.source else resolve_model(model)
    out = Path(out_dir) if out_dir else default_out_dir(source, data, max_samples)
    check_output(out, data, directory=True)
    runtime = chatbot.runtime if chatbot else choose_runtime(config.device, config.precision)
    bot = chatbot or LocalChatbot.load(source, config.generation, config.training.memory_fraction, runtime)
    load_seconds = time.perf_counter() - started
    options = data_options(source, config)
    examples = build_training_set(data, options, chat_token_counter(bot.tokenizer)).train
    examples = select_sample(examples, max_samples, config.generation.seed)
    if not examples:
        raise InputFileError(str(data), "no supporter turn to evaluate")
    fingerprint = {"model": source.spec, "model_path": source.path, "data_sha256": file_sha256(data),
                   "max_samples": max_samples, "generation": config.generation.model_dump(mode="json"),
                   "data_options": options.model_dump(mode="json", exclude={"cache_dir"}),
                   "device": runtime.device, "precision": runtime.precision}
    replaced = _claim(out, fingerprint)
    task = EvaluationTask(bot)
    items = [Item(example_id(e), e) for e in examples]
    run = asyncio.run(run_task(task, items, {"predictions": out / PREDICTIONS_FILE},
                               options=RunOptions(progress=progress)))
    wanted = {item.id for item in items}
    found = {r["id"]: r for _, r in iter_jsonl(out / PREDICTIONS_FILE) if r["id"] in wanted}
    records = [found[item.id] for item in items]
    scores = score_responses([r["prediction"] for r in records], [r["reference"] for r in records])
    scores["perplexity"] = sum((NLL(r["gold_nll"], r["gold_tokens"]) for r in records), NLL()).perplexity
    new_tokens = sum(r["generated_tokens"] for r in records)
    meta = {
        **fingerprint, "trained": bool(source.meta), "data": str(data), "examples": len(examples),
        "sample_seed": config.generation.seed, "load_seconds": round(load_seconds, 2),
        "resumed": run.done_before, "replaced_earlier_predictions": replaced,
        "generation_seconds": round(task.generation_seconds, 2), "generated_tokens": new_tokens,
        "generation_tokens_per_s": (round(task.generated_tokens / task.generation_seconds, 2)
                                    if task.generation_seconds else None),
        "tokenizer": TOKENIZER_NOTE, "metrics": METRICS, "environment": runtime.record(),
        "wall_seconds": round(time.perf_counter() - started, 2),
    }
    write_atomic(out / SCORES_FILE, json.dumps({"scores": scores, "meta": meta}, indent=2))
    return EvalResult(out, scores, meta)


def load_scores(path: str | Path) -> dict[str, Any]:
    """The scores.json of an evaluation (``path`` is the file or its folder)."""
    path = Path(path)
    path = path / SCORES_FILE if path.is_dir() else path
    if not path.is_file():
        raise InputFileError(str(path), "no scores file", hint="run `socialsim eval-chatbot MODEL` first")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputFileError(str(path), f"invalid JSON ({exc.msg})", exc.lineno, exc.colno) from None
