"""Chatbot benchmark: SmolLM2-135M base vs fine-tuned on ESConv train vs fine-tuned on a simulated corpus, all
scored on the same seeded sample of ESConv test turns, with training time and tokens/s.

    .venv/bin/python benchmarks/bench_chatbot.py --rows base esconv
    .venv/bin/python benchmarks/bench_chatbot.py --rows sim --sim-corpus runs/sim-bench/dialogues.jsonl

Rows can be run separately (each is saved to results.json as soon as it is done) because the machine is a shared
2-core CPU. Bounded: LoRA, short examples, a few dozen to a few hundred training examples, a small test sample.
Writes reports/bench_chatbot/{results.json, table.md}; models go to models/bench-*.
"""

import argparse
import json
import time
from pathlib import Path

from socialsim.chatbot.config import ChatbotConfig
from socialsim.chatbot.dataset import build_training_set
from socialsim.chatbot.evaluate import evaluate_model
from socialsim.chatbot.train import train_chatbot
from socialsim.corpus.atomic import write_atomic

ESCONV = Path(__file__).resolve().parents[2] / "shared" / "data" / "esconv"
KEYS = ["bleu-1", "bleu-2", "bleu-4", "rouge-l", "distinct-1", "distinct-2", "mean-length", "sacrebleu",
        "perplexity"]
LABELS = {"base": "base SmolLM2-135M-Instruct", "esconv": "fine-tuned on ESConv train",
          "sim": "fine-tuned on simulated corpus"}


def table(results: dict) -> str:
    lines = ["| model | train examples | train time | train tokens/s | " + " | ".join(KEYS) + " |",
             "|---" * (len(KEYS) + 4) + "|"]
    for row in LABELS:
        if row not in results:
            continue
        r = results[row]
        t = r.get("training")
        cells = f"{t['train_examples']} | {t['train_seconds'] / 60:.1f} min | {t['tokens_per_s']:.0f}" if t else \
            "- | - | -"
        s = r["eval"]["scores"]
        lines.append(f"| {LABELS[row]} | {cells} | " + " | ".join(f"{s[k]:.2f}" for k in KEYS) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", nargs="+", choices=list(LABELS), default=list(LABELS), help="Rows to (re)compute.")
    p.add_argument("--test", type=Path, default=ESCONV / "test.jsonl", help="Evaluation corpus.")
    p.add_argument("--esconv-train", type=Path, default=ESCONV / "train.jsonl", help="Crowdsourced training corpus.")
    p.add_argument("--sim-corpus", type=Path, help="Simulated corpus (socialsim JSONL) for the 'sim' row.")
    p.add_argument("--train-examples", type=int, default=48, help="Training examples per fine-tuned model (the "
                   "simulated row uses all its examples if it has fewer).")
    p.add_argument("--epochs", type=float, default=2.0, help="Passes over the training examples.")
    p.add_argument("--test-samples", type=int, default=40, help="ESConv test turns scored (seeded sample).")
    p.add_argument("--max-length", type=int, default=192, help="Tokens per example (prompt + reply).")
    p.add_argument("--max-new-tokens", type=int, default=32, help="Tokens generated per reply.")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads.")
    p.add_argument("--out", type=Path, default=Path("reports/bench_chatbot"), help="Where results go.")
    args = p.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    config = ChatbotConfig.model_validate({
        "data": {"max_length": args.max_length, "max_examples": args.train_examples, "validation_fraction": 0.0},
        "training": {"method": "lora", "epochs": args.epochs, "batch_size": 4, "save_steps": 10, "logging_steps": 2,
                     "n_threads": args.threads},
        "generation": {"max_new_tokens": args.max_new_tokens, "batch_size": 8},
    })
    results_path = args.out / "results.json"
    results = json.loads(results_path.read_text())["results"] if results_path.is_file() else {}
    corpora = {"esconv": args.esconv_train, "sim": args.sim_corpus}
    for row in args.rows:
        model, entry = "embedded", {}
        if row != "base":
            corpus = corpora[row]
            if corpus is None:
                raise SystemExit(f"--sim-corpus is needed for row {row!r}")
            model = f"models/bench-{row}"
            started = time.perf_counter()
            train = train_chatbot(corpus, model, config, overwrite=True)
            entry["training"] = {**train.__dict__, "wall_seconds": round(time.perf_counter() - started, 1),
                                 "corpus": str(corpus),
                                 "corpus_dialogues": build_training_set(corpus, config.data).dialogues}
        started = time.perf_counter()
        result = evaluate_model(model, args.test, config, max_samples=args.test_samples, out_dir=args.out / row)
        entry["eval"] = {"scores": result.scores, "wall_seconds": round(time.perf_counter() - started, 1), **{
            k: result.meta[k] for k in ("examples", "load_seconds", "generation_seconds", "generated_tokens",
                                        "generation_tokens_per_s")}}
        results[row] = entry
        full = len(build_training_set(args.test, config.data.model_copy(
            update={"validation_fraction": 0.0, "max_examples": None})).train)
        per_turn = (entry["eval"]["wall_seconds"] - result.meta["load_seconds"]) / result.meta["examples"]
        entry["eval"]["full_test_turns"] = full
        entry["eval"]["full_test_estimated_minutes"] = round(per_turn * full / 60, 1)
        write_atomic(results_path, json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                               "results": results}, indent=2, default=str))
        write_atomic(args.out / "table.md", table(results))
        print(table(results), flush=True)


if __name__ == "__main__":
    main()
