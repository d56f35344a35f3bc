"""The chatbot results table: the base model vs fine-tuned on ESConv train vs fine-tuned on a simulated corpus, on
the same ESConv test turns, with paired-bootstrap 95% intervals of every difference.

    python benchmarks/bench_chatbot.py --sim-corpus runs/sim/dialogues.jsonl                 # everything
    python benchmarks/bench_chatbot.py --sim-corpus ... --train-examples 2000 --max-samples 500   # CPU sizes
    python benchmarks/bench_chatbot.py --sim-corpus ... --device cpu --max-samples 20          # a quick look

Both trained rows use the same number of training examples (``--train-examples``, default: as many as the smaller
corpus has; with ``--max-samples N`` and no ``--train-examples``, N) and the same number of optimisation steps
(``--epochs`` passes over that many examples, or ``--max-steps``). Each row is kept in OUT/results.json as soon as
it is done, a trained model in OUT/models/ROW is reused by a later run (``--retrain`` trains again), an interrupted
training or evaluation resumes. Writes OUT/table.md (scores, wall times, device, and the differences with
intervals; ``*`` = the 95% interval excludes 0).
"""

import argparse
import json
import math
import sys
import time
from pathlib import Path

from socialsim.chatbot.compare import compare_all, load_evaluation
from socialsim.chatbot.config import ChatbotConfig
from socialsim.chatbot.dataset import file_sha256
from socialsim.chatbot.evaluate import evaluate_model
from socialsim.chatbot.model import MODEL_DIR, load_model, load_tokenizer, resolve_model
from socialsim.chatbot.tokenised import tokenise
from socialsim.chatbot.train import run_identity, train_chatbot
from socialsim.corpus.atomic import atomic_path, write_atomic

ESCONV = Path(__file__).resolve().parents[2] / "shared" / "data" / "esconv"
COLUMNS = {"bleu-1": "BLEU-1", "bleu-2": "BLEU-2", "bleu-4": "BLEU-4", "rouge-l": "ROUGE-L", "distinct-1": "Dist-1",
           "distinct-2": "Dist-2", "perplexity": "gold PPL"}
LABELS = {"base": "base", "esconv": "fine-tuned on ESConv train", "sim": "fine-tuned on the simulated corpus"}


def minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def table(results: dict, differences: dict, turns: int) -> str:
    head = ["model", "train examples", "steps", *COLUMNS.values(), "wall time (train + eval)", "device"]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for row in LABELS:
        if row not in results:
            continue
        r, s = results[row], results[row]["eval"]["scores"]
        t = r.get("training")
        wall = r["eval"]["wall_seconds"] + (t["wall_seconds"] if t else 0)
        cells = [LABELS[row], str(t["train_examples"]) if t else "-", str(t["steps"]) if t else "-",
                 *(f"{s[k]:.2f}" for k in COLUMNS), minutes(wall), r["eval"]["device"]]
        lines.append("| " + " | ".join(cells) + " |")
    if differences:
        pairs = list(differences)
        lines += ["", f"Differences on the same {turns} test turns, paired bootstrap 95% interval (1,000 resamples, "
                  "seed 0); * = significant (the interval excludes 0):", "",
                  "| metric | " + " | ".join(f"{b} - {a}" for a, b in pairs) + " |", "|---" * (len(pairs) + 1) + "|"]
        for key, name in COLUMNS.items():
            lines.append(f"| {name} | " + " | ".join(str(differences[p][key]) for p in pairs) + " |")
    return "\n".join(lines) + "\n"


def materialise(spec: str | None, out: Path) -> str:
    """A GGUF base model de-quantised once into an HF folder (OUT/base-model), so that the five loads of the table
    (two trainings, three evaluations) read safetensors instead of de-quantising again; other models as given."""
    source = resolve_model(spec)
    if not source.gguf_file:
        return spec or "embedded"
    target = out / "base-model"
    if not (target / "config.json").is_file():
        started = time.perf_counter()
        model, tokenizer = load_model(source)
        with atomic_path(target, directory=True) as tmp:
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
        print(f"de-quantised {source.spec} into {target} in {time.perf_counter() - started:.0f}s", flush=True)
    return str(target)


def reusable(run: Path, corpus: Path, config: ChatbotConfig) -> dict | None:
    """The training result of a finished run in ``run`` with this corpus and these settings, else None."""
    record = run / "run.json"
    if not (run / MODEL_DIR).is_dir() or not record.is_file():
        return None
    previous = json.loads(record.read_text())
    same = previous.get("config") == run_identity(config) and previous.get("corpus_sha256") == file_sha256(corpus)
    return previous.get("result") if same else None


def train_size(corpora: dict[str, Path], config: ChatbotConfig) -> int:
    """How many examples the smaller training corpus has (tokenised once; the cache serves the training)."""
    tokenizer = load_tokenizer(resolve_model(config.training.base_model))
    sizes = {}
    for row, corpus in corpora.items():
        data = tokenise(corpus, config.data, tokenizer)
        sizes[row] = len(data.split(config.data.model_copy(update={"max_examples": None}))[0])
    print(f"training examples available: {sizes}", flush=True)
    return min(sizes.values())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", nargs="+", choices=list(LABELS), default=list(LABELS), help="Rows to (re)compute.")
    p.add_argument("--test", type=Path, default=ESCONV / "test.jsonl", help="Evaluation corpus (ESConv test).")
    p.add_argument("--esconv-train", type=Path, default=ESCONV / "train.jsonl", help="Crowdsourced training corpus.")
    p.add_argument("--sim-corpus", type=Path, help="Simulated corpus (`socialsim simulate`'s dialogues.jsonl).")
    p.add_argument("--base-model", help="Base model (default: the embedded SmolLM2-135M-Instruct GGUF, de-quantised "
                   "once into OUT/base-model).")
    p.add_argument("--max-samples", type=int, help="Test turns scored (a seeded sample; default: all).")
    p.add_argument("--train-examples", type=int, help="Training examples per trained row (default: all the smaller "
                   "corpus has, or --max-samples when that is given).")
    p.add_argument("--epochs", type=float, default=1.0, help="Passes over the training examples.")
    p.add_argument("--max-steps", type=int, help="Optimisation steps (overrides --epochs).")
    p.add_argument("--batch-size", type=int, default=8, help="Training examples per step.")
    p.add_argument("--learning-rate", type=float, default=2e-4, help="Peak learning rate (LoRA).")
    p.add_argument("--max-length", type=int, default=256, help="Tokens per training example (prompt + reply).")
    p.add_argument("--max-new-tokens", type=int, default=40, help="Tokens generated per reply.")
    p.add_argument("--gen-batch-size", type=int, default=16, help="Prompts generated together.")
    p.add_argument("--device", default="auto", help="auto, cuda, mps or cpu.")
    p.add_argument("--precision", default="auto", help="auto, bf16, fp16 or fp32.")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's).")
    p.add_argument("--retrain", action="store_true", help="Train again even when OUT/models/ROW holds a model.")
    p.add_argument("--out", type=Path, default=Path("reports/bench_chatbot"), help="Where results go.")
    args = p.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    base = materialise(args.base_model, args.out)
    config = ChatbotConfig.model_validate({
        "device": args.device, "precision": args.precision,
        "data": {"max_length": args.max_length, "validation_fraction": 0.0},
        "training": {"base_model": base, "method": "lora", "batch_size": args.batch_size,
                     "learning_rate": args.learning_rate, "save_steps": 200, "logging_steps": 10},
        "generation": {"max_new_tokens": args.max_new_tokens, "batch_size": args.gen_batch_size},
    })
    trained_rows = [r for r in args.rows if r != "base"]
    corpora = {"esconv": args.esconv_train, "sim": args.sim_corpus}
    if "sim" in trained_rows and args.sim_corpus is None:
        sys.exit("--sim-corpus is needed for the 'sim' row")
    results_path = args.out / "results.json"
    results = json.loads(results_path.read_text())["results"] if results_path.is_file() else {}
    if trained_rows:
        wanted = args.train_examples or args.max_samples
        available = train_size({r: corpora[r] for r in ("esconv", "sim") if corpora[r] is not None}, config)
        examples = min(wanted, available) if wanted else available
        steps = args.max_steps or math.ceil(examples * args.epochs / args.batch_size)
        config = config.model_copy(update={
            "data": config.data.model_copy(update={"max_examples": examples}),
            "training": config.training.model_copy(update={"max_steps": steps})})
        print(f"each trained row: {examples} examples, {steps} steps of {args.batch_size}", flush=True)

    for row in args.rows:
        model, entry = base, {}
        if row != "base":
            model = args.out / "models" / row
            previous = reusable(model, corpora[row], config)
            if previous is None or args.retrain:
                started = time.perf_counter()
                train = train_chatbot(corpora[row], model, config, overwrite=True)
                entry["training"] = {**train.__dict__, "wall_seconds": round(time.perf_counter() - started, 1),
                                     "corpus": str(corpora[row])}
            else:
                entry["training"] = results.get(row, {}).get("training") or {
                    **previous, "wall_seconds": previous["train_seconds"], "corpus": str(corpora[row])}
                print(f"{row}: reusing the model trained with the same settings in {model}", flush=True)
            model = str(model)
        result = evaluate_model(model, args.test, config, max_samples=args.max_samples, out_dir=args.out / row)
        entry["eval"] = {"scores": result.scores, "device": result.meta["environment"]["device_name"], **{
            k: result.meta[k] for k in ("examples", "wall_seconds", "load_seconds", "generation_seconds",
                                        "generated_tokens", "generation_tokens_per_s", "environment")}}
        results[row] = entry
        write_atomic(results_path, json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                               "results": results}, indent=2, default=str))
        print(f"{row}: {result.scores['bleu-2']:.2f} BLEU-2, wall {entry['eval']['wall_seconds']:.0f}s eval",
              flush=True)

    done = [row for row in LABELS if row in results and (args.out / row / "predictions.jsonl").is_file()]
    evaluations = [load_evaluation(row, args.out / row) for row in done]
    differences = compare_all(evaluations) if len(evaluations) > 1 else {}
    turns = len(evaluations[0].records) if evaluations else 0
    write_atomic(args.out / "table.md", table(results, differences, turns))
    print(table(results, differences, turns), flush=True)


if __name__ == "__main__":
    main()
