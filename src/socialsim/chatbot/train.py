"""Fine-tuning with the transformers Trainer (PEFT LoRA by default, full fine-tuning as an option) on the device
the runtime picks: CUDA, then MPS, then the CPU, in bf16/fp16 mixed precision where the device supports it.

The examples come from the tokenised-data cache (:mod:`socialsim.chatbot.tokenised`): tokenised once per corpus,
options and tokenizer, read lazily, with the loss on the supporter's reply only (labels -100 on the prompt). No TRL
and no ``datasets``: the plain Trainer, a map-style dataset and a padding collator.

A run folder holds everything about one training run::

    OUT/run.json         config, corpus path and sha256, data hash, example counts, device, precision, library
                         versions, results
    OUT/checkpoints/     trainer checkpoints (the last two); the same command resumes from the last one
    OUT/log.jsonl        the trainer's log history (loss, learning rate, tokens, validation loss)
    OUT/curve.png        the training curve
    OUT/model/           the final model (LoRA merged), loadable by transformers and every socialsim command

The final model is written to ``OUT/model.tmp-*`` and renamed at the very end, with its
``socialsim_chatbot.json`` written last, so an interrupted run never leaves a folder that looks like a model.
"""

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from socialsim.chatbot.config import ChatbotConfig
from socialsim.chatbot.device import Runtime, choose_runtime
from socialsim.chatbot.model import META_FILE, MODEL_DIR, load_model, load_tokenizer, resolve_model
from socialsim.chatbot.tokenised import ExampleDataset, PadCollator, TokenisedData, tokenise
from socialsim.corpus.atomic import check_output, write_atomic, write_lines_atomic
from socialsim.errors import InputFileError, SocialsimError


@dataclass
class TrainResult:
    run_dir: str
    model_dir: str
    train_examples: int
    validation_examples: int
    steps: int
    train_seconds: float  # wall time of this invocation's training (a resumed run counts only its own part)
    tokens: int  # non-padding tokens seen by the model in training (all invocations)
    tokens_per_s: float  # this invocation's tokens per second of training
    train_loss: float | None
    validation_loss: float | None
    resumed_from: str | None
    device: str
    precision: str
    precision_fallback: str | None  # why the precision differs from the one asked for
    tokenise_seconds: float  # 0 when the tokenised data came from the cache
    cache_hit: bool


def _run_record(corpus: Path, config: ChatbotConfig, data: TokenisedData, data_hash: str, train: int,
                validation: int, base: str) -> dict[str, Any]:
    return {"corpus": str(corpus), "corpus_sha256": data.meta["corpus_sha256"], "data_hash": data_hash,
            "tokenised": str(data.folder), "base_model": base, "dialogues": data.meta["dialogues"],
            "train_examples": train, "validation_examples": validation,
            "truncated_examples": data.meta["truncated_examples"], "dropped_examples": data.meta["dropped_examples"],
            "config": run_identity(config)}


def run_identity(config: ChatbotConfig) -> dict[str, Any]:
    """The settings a resumed run must share (where it runs and the cache folder may change)."""
    return config.model_dump(mode="json", exclude={"device": True, "precision": True, "data": {"cache_dir"}})


def _check_run_folder(out: Path, record: dict[str, Any], overwrite: bool) -> None:
    run_file = out / "run.json"
    if overwrite:
        for stale in [out / MODEL_DIR, out / "checkpoints", *out.glob(f"{MODEL_DIR}.tmp-*")]:
            shutil.rmtree(stale, ignore_errors=True)
        return
    if (out / MODEL_DIR).exists():
        raise SocialsimError(f"{out} already holds a trained model", "use another --out, or --overwrite to retrain")
    if run_file.is_file():
        previous = json.loads(run_file.read_text(encoding="utf-8"))
        same = all(previous.get(k) == record[k] for k in ("data_hash", "base_model", "config"))
        if not same:
            raise SocialsimError(f"{out} holds an unfinished run with other data or settings",
                                 "resume with the same corpus and settings, use another --out, or --overwrite")


def plot_curve(history: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    train = [(h["step"], h["loss"]) for h in history if "loss" in h]
    valid = [(h["step"], h["eval_loss"]) for h in history if "eval_loss" in h]
    if train:
        ax.plot(*zip(*train, strict=True), label="training loss")
    if valid:
        ax.plot(*zip(*valid, strict=True), "o-", label="validation loss")
    ax.set_xlabel("optimiser step")
    ax.set_ylabel("loss (supporter reply tokens)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)


def _training_arguments(config: ChatbotConfig, runtime: Runtime, checkpoints: Path, has_validation: bool,
                        progress: bool) -> Any:
    from transformers import TrainingArguments

    t = config.training
    fields = TrainingArguments.__dataclass_fields__
    checkpointing = "activation_checkpointing" if "activation_checkpointing" in fields else "gradient_checkpointing"
    return TrainingArguments(
        output_dir=str(checkpoints), per_device_train_batch_size=t.batch_size,
        per_device_eval_batch_size=t.batch_size, gradient_accumulation_steps=t.gradient_accumulation_steps,
        learning_rate=t.learning_rate, num_train_epochs=t.epochs, max_steps=t.max_steps or -1,
        warmup_steps=t.warmup_ratio, logging_steps=t.logging_steps, save_steps=t.save_steps, save_total_limit=2,
        eval_strategy="steps" if (t.eval_steps and has_validation) else "no", eval_steps=t.eval_steps,
        seed=t.seed, use_cpu=runtime.device == "cpu", bf16=runtime.precision == "bf16",
        fp16=runtime.precision == "fp16", report_to="none", disable_tqdm=not progress, dataloader_num_workers=0,
        logging_first_step=True, include_num_input_tokens_seen="non_padding", remove_unused_columns=False,
        **{checkpointing: t.activation_checkpointing},
    )


def train_chatbot(corpus: str | Path, out: str | Path, config: ChatbotConfig, *, format: str = "auto",
                  overwrite: bool = False, progress: bool = True, callbacks: list[Any] | None = None) -> TrainResult:
    """Train a chatbot on ``corpus`` into the run folder ``out`` (resuming from its last checkpoint if any).

    ``callbacks`` are extra transformers ``TrainerCallback`` objects (e.g. early stopping, custom logging).
    """
    import torch
    from transformers import Trainer
    from transformers.trainer_utils import get_last_checkpoint

    t = config.training
    corpus, out = Path(corpus), Path(out)
    if t.n_threads:
        torch.set_num_threads(t.n_threads)
    if not corpus.is_file():
        raise InputFileError(str(corpus), "file not found", hint="give the path of a corpus JSONL file")
    check_output(out, corpus, directory=True)
    runtime = choose_runtime(config.device, config.precision)
    source = resolve_model(t.base_model)
    tokenizer = load_tokenizer(source)
    started = time.perf_counter()
    data = tokenise(corpus, config.data, tokenizer, format=format, progress=progress)
    tokenise_seconds = 0.0 if data.cache_hit else time.perf_counter() - started
    train_rows, validation_rows = data.split(config.data)
    if not len(train_rows):
        raise InputFileError(str(corpus), "every dialogue fell into the validation split",
                             hint="lower chatbot.data.validation_fraction or use a larger corpus")
    data_hash = data.data_hash(train_rows, validation_rows)
    record = _run_record(corpus, config, data, data_hash, len(train_rows), len(validation_rows), source.spec)
    _check_run_folder(out, record, overwrite)
    out.mkdir(parents=True, exist_ok=True)
    record["environment"] = runtime.record()
    write_atomic(out / "run.json", json.dumps(record, indent=2))

    model, tokenizer = load_model(source, training=t.method, fraction=t.memory_fraction, runtime=runtime)
    checkpoints = out / "checkpoints"
    last = get_last_checkpoint(str(checkpoints)) if checkpoints.is_dir() else None
    has_validation = bool(len(validation_rows))
    args = _training_arguments(config, runtime, checkpoints, has_validation, progress)
    if t.method == "lora":
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=t.lora_r, lora_alpha=t.lora_alpha, lora_dropout=t.lora_dropout,
                                                 target_modules=t.lora_target_modules, task_type="CAUSAL_LM"))
        if t.activation_checkpointing:
            model.enable_input_require_grads()  # frozen embeddings: checkpointed blocks still need a grad input
    max_length = config.data.max_length
    trainer = Trainer(
        model=model, args=args, processing_class=tokenizer, callbacks=callbacks,
        data_collator=PadCollator(tokenizer.pad_token_id, 8 if runtime.device == "cuda" else None),
        train_dataset=ExampleDataset(data, train_rows, max_length),
        eval_dataset=ExampleDataset(data, validation_rows, max_length) if has_validation else None,
    )
    started = time.perf_counter()
    output = trainer.train(resume_from_checkpoint=last)
    seconds = time.perf_counter() - started
    validation_loss = trainer.evaluate()["eval_loss"] if has_validation else None

    history = trainer.state.log_history
    write_lines_atomic(out / "log.jsonl", (json.dumps(h) for h in history))
    plot_curve(history, out / "curve.png")
    tokens = int(trainer.state.num_input_tokens_seen)
    session_tokens = tokens - int(getattr(trainer, "_initial_num_input_tokens_seen", 0) or 0)

    final = trainer.model.merge_and_unload() if t.method == "lora" else trainer.model
    tmp = out / f"{MODEL_DIR}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    final.to(torch.float32).save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    meta = {"base_model": source.spec, "data": config.data.model_dump(mode="json", exclude={"cache_dir"}),
            "method": t.method, "data_hash": data_hash, "corpus": str(corpus)}
    write_atomic(tmp / META_FILE, json.dumps(meta, indent=2))  # last file: marks the model as complete
    os.replace(tmp, out / MODEL_DIR)

    result = TrainResult(
        run_dir=str(out), model_dir=str(out / MODEL_DIR), train_examples=len(train_rows),
        validation_examples=len(validation_rows), steps=trainer.state.global_step, train_seconds=seconds,
        tokens=tokens, tokens_per_s=session_tokens / seconds if seconds else 0.0,
        train_loss=output.training_loss, validation_loss=validation_loss, resumed_from=last,
        device=runtime.device, precision=runtime.precision, precision_fallback=runtime.fallback,
        tokenise_seconds=round(tokenise_seconds, 2),
        cache_hit=data.cache_hit)
    write_atomic(out / "run.json", json.dumps({**record, "result": asdict(result)}, indent=2))
    return result
