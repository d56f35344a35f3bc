"""Tokenising a training corpus at scale: the tokenised-data cache (streamed, memory-mapped) vs the Python-object
training set, on synthetic corpora (pseudo-word dialogues, seeded; nothing from ESConv).

    python benchmarks/bench_tokenise.py --dialogues 10000 100000

For each size: a synthetic corpus of N 20-utterance dialogues (socialsim JSONL) is written under OUT; then, each in
its own process (so that peak memory is its own): (a) ``tokenise`` into an empty cache, (b) ``tokenise`` again
(the cache hit), and, for sizes up to ``--objects-up-to``, (c) ``build_training_set`` with the chat-template token
counter (every example as Python objects, the path training used before the cache). Prints one row per step:
seconds, resident memory before the step (imports and tokenizer loaded) and its peak growth during the step,
examples, tokens, cache size.
"""

import argparse
import json
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

SYLLABLES = [c + v for c in "bcdfghklmnprstvwz" for v in ("a", "e", "i", "o", "u", "ay", "ee", "ou")]


def make_corpus(path: Path, dialogues: int, seed: int = 0) -> None:
    """N dialogues of 20 utterances (seeker first), 6-30 pseudo-words each, from a fixed 3,000-word vocabulary."""
    rng = random.Random(seed)
    vocabulary = ["".join(rng.choice(SYLLABLES) for _ in range(rng.choice((1, 1, 2, 2, 3)))) for _ in range(3000)]
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as out:
        for d in range(dialogues):
            turns = [{"speaker": "seeker" if i % 2 == 0 else "supporter",
                      "text": " ".join(rng.choice(vocabulary) for _ in range(rng.randint(6, 30))).capitalize() + "."}
                     for i in range(20)]
            out.write(json.dumps({"id": f"synthetic-{d}", "turns": turns}) + "\n")
    tmp.replace(path)


class PeakRss:
    """Resident memory now and its peak while the block runs (sampled every 20 ms: the process's own ru_maxrss
    already holds the tokenizer's loading peak)."""

    def __enter__(self) -> "PeakRss":
        import psutil

        self.process = psutil.Process()
        self.before = self.peak = self.process.memory_info().rss
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self) -> None:
        while self.running:
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.02)

    def __exit__(self, *exc: object) -> None:
        self.running = False
        self.thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)


def child(step: str, corpus: Path, cache: Path, max_length: int) -> None:
    """One measured step, in its own process; prints one JSON line."""
    from socialsim.chatbot.config import DatasetConfig
    from socialsim.chatbot.dataset import build_training_set, chat_token_counter
    from socialsim.chatbot.model import load_tokenizer, resolve_model
    from socialsim.chatbot.tokenised import tokenise

    tokenizer = load_tokenizer(resolve_model("embedded"))
    options = DatasetConfig(max_length=max_length)
    chat_token_counter(tokenizer)([{"role": "system", "content": "warm up"}])
    with PeakRss() as memory:
        started = time.perf_counter()
        if step == "objects":
            data = build_training_set(corpus, options, chat_token_counter(tokenizer))
            examples, tokens, size = len(data.train) + len(data.validation), None, None
        else:
            data = tokenise(corpus, options, tokenizer, cache_dir=cache)
            examples, tokens = data.meta["examples"], data.meta["tokens"]
            size = sum(p.stat().st_size for p in data.folder.iterdir()) / 2**20
            assert data.cache_hit == (step == "cache hit")
            data.split(options)  # what training does next: the train/validation rows (memory-mapped)
        seconds = time.perf_counter() - started
    print(json.dumps({"step": step, "seconds": round(seconds, 2), "rss_before_mib": round(memory.before / 2**20),
                      "peak_growth_mib": round((memory.peak - memory.before) / 2**20), "examples": examples,
                      "tokens": tokens, "cache_mib": None if size is None else round(size, 1)}), flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dialogues", type=int, nargs="+", default=[10000, 100000], help="Corpus sizes.")
    p.add_argument("--objects-up-to", type=int, default=10000, help="Largest size also run as Python objects.")
    p.add_argument("--max-length", type=int, default=512, help="chatbot.data.max_length.")
    p.add_argument("--out", type=Path, default=Path("runs/bench_tokenise"), help="Corpora and caches go here.")
    p.add_argument("--child", nargs=3, metavar=("STEP", "CORPUS", "CACHE"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), Path(args.child[2]), args.max_length)
        return
    args.out.mkdir(parents=True, exist_ok=True)
    for n in args.dialogues:
        corpus = args.out / f"synthetic-{n}.jsonl"
        if not corpus.is_file():
            make_corpus(corpus, n)
        cache = args.out / f"cache-{n}"
        subprocess.run(["rm", "-rf", str(cache)], check=True)
        steps = ["tokenise", "cache hit", *(["objects"] if n <= args.objects_up_to else [])]
        print(f"{n} dialogues, {corpus.stat().st_size / 2**20:.0f} MiB", flush=True)
        for step in steps:
            subprocess.run([sys.executable, __file__, "--max-length", str(args.max_length), "--child", step,
                            str(corpus), str(cache)], check=True)


if __name__ == "__main__":
    main()
