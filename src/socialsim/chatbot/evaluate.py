"""Evaluation on a corpus with gold replies (ESConv test by default): generate each supporter turn from the gold
history, score against the gold reply, and measure the perplexity of the gold replies.

``max_samples`` takes a seeded random sample (``random.Random(seed).sample`` over the examples in corpus order,
then re-sorted), so a quick run always scores the same turns for every model.
"""

import json
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from socialsim.chatbot.config import ChatbotConfig, DatasetConfig
from socialsim.chatbot.dataset import Example, build_training_set, chat_token_counter, file_sha256, parse_reply
from socialsim.chatbot.engine import LocalChatbot
from socialsim.chatbot.model import ModelSource, resolve_model
from socialsim.errors import InputFileError
from socialsim.evaluation.outputs import write_atomic, write_jsonl_atomic
from socialsim.metrics.responses import METRICS, TOKENIZER_NOTE, score_responses

PREDICTIONS_FILE, SCORES_FILE = "predictions.jsonl", "scores.json"


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


def evaluate_model(model: str | None, data: str | Path, config: ChatbotConfig, *, out_dir: str | Path | None = None,
                   max_samples: int | None = None, progress: bool = True,
                   chatbot: LocalChatbot | None = None) -> EvalResult:
    """Generate and score every (or a sample of) supporter turn of ``data``; write predictions and scores."""
    data = Path(data)
    source = chatbot.source if chatbot and chatbot.source else resolve_model(model)
    out = Path(out_dir) if out_dir else default_out_dir(source, data, max_samples)
    loaded_at = time.perf_counter()
    bot = chatbot or LocalChatbot.load(source, config.generation, config.training.memory_fraction)
    load_seconds = time.perf_counter() - loaded_at
    options = data_options(source, config)
    examples = build_training_set(data, options, chat_token_counter(bot.tokenizer)).train
    examples = select_sample(examples, max_samples, config.generation.seed)
    if not examples:
        raise InputFileError(str(data), "no supporter turn to evaluate")

    bar = tqdm(total=len(examples), desc="generating", unit="reply", disable=not progress)
    started = time.perf_counter()
    generated = bot.generate([e.prompt for e in examples], on_batch=lambda n, _: bar.update(n))
    gen_seconds = time.perf_counter() - started
    bar.close()
    bar = tqdm(total=len(examples), desc="gold perplexity", unit="reply", disable=not progress)
    nll = bot.gold_nll(examples, on_batch=bar.update)
    bar.close()

    records, predictions = [], []
    for ex, (raw, _) in zip(examples, generated, strict=True):
        reply, strategy = parse_reply(raw)
        predictions.append(reply)
        records.append({"dialogue_id": ex.dialogue_id, "turn": ex.turn_index, "context": ex.prompt[1:],
                        "reference": ex.reference, "reference_strategy": ex.strategy, "prediction": reply,
                        "predicted_strategy": strategy, "raw": raw})
    scores = score_responses(predictions, [e.reference for e in examples])
    scores["perplexity"] = nll.perplexity
    new_tokens = sum(n for _, n in generated)
    meta = {
        "model": source.spec, "model_path": source.path, "trained": bool(source.meta), "data": str(data),
        "data_sha256": file_sha256(data), "examples": len(examples), "max_samples": max_samples,
        "sample_seed": config.generation.seed, "generation": config.generation.model_dump(mode="json"),
        "data_options": options.model_dump(mode="json"), "load_seconds": round(load_seconds, 2),
        "generation_seconds": round(gen_seconds, 2), "generated_tokens": new_tokens,
        "generation_tokens_per_s": round(new_tokens / gen_seconds, 2) if gen_seconds else None,
        "tokenizer": TOKENIZER_NOTE, "metrics": METRICS,
    }
    write_jsonl_atomic(out / PREDICTIONS_FILE, (json.dumps(r, ensure_ascii=False) for r in records))
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
