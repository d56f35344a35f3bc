"""Which prompt tokens of each simulator call are not an exact prefix of its role's previous prompt, and why.

    .venv/bin/python benchmarks/prefix_anatomy.py [--dialogues 2] [--turns 20] [--threads 1] [--out DIR]

Runs bench_simulation.py's (bN) setting (the real runner, embedded model, ``stop_on_repeat=false``) on a few
dialogues and records every call's prompt tokens. It prints the prefix share as (bN) counts it (all calls), the
share without identical re-sends (a regenerated candidate re-sends its prompt unchanged: a wasted call that counts
as 100 % prefix), and what the new part of each later call is made of: the role's own previous reply, the new user
message (the other role's words and the turn's instruction) and the chat template's markup. Prompts only grow, so
without re-sends a role's non-prefix tokens add up to the length of its last prompt, and its share is
1 - last / sum of its prompts: below 1 - 1/N for N calls whenever prompts grow. ``DIR/calls.json`` keeps each
call's non-prefix text.
"""

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from bench_simulation import bench_config, simulate

from socialsim.llm.prefix import PrefixTracker

MARKUP = ("<|im_end|>", "<|im_start|>user", "<|im_start|>assistant", "\n")


class RecordingTracker(PrefixTracker):
    """A prefix tracker that also keeps every call's session, prompt and counted prefix."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str | None, list[int], int]] = []

    def repeat(self, session: str | None, prompt: Any) -> int:
        n = super().repeat(session, prompt)
        self.calls.append((session, list(prompt), n))
        return n


def parts(llama: Any, tail: list[int]) -> dict[str, int]:
    """Tokens of a later call's new part: own previous reply, then the new user message, then markup."""
    text = llama.detokenize(tail, special=True).decode(errors="replace")
    reply, _, rest = text.partition("<|im_end|>")
    message = rest.split("<|im_start|>user\n", 1)[-1].split("<|im_end|>")[0]
    count = {"reply": len(llama.tokenize(reply.encode(), add_bos=False, special=True)),
             "message": len(llama.tokenize(message.encode(), add_bos=False, special=True))}
    return {**count, "markup": len(tail) - count["reply"] - count["message"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dialogues", type=int, default=2)
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("reports/prefix_anatomy"))
    args = parser.parse_args()
    config = bench_config(args.turns, args.dialogues, {"n_threads": args.threads})
    backends = config.backends(args.out, use_cache=False)
    engine = backends.get("seeker")._engine  # type: ignore[attr-defined]  # the batch engine, reached for this probe
    tracker = engine._previous = RecordingTracker()
    load = os.getloadavg()[0]
    row = asyncio.run(simulate(args.turns, args.dialogues, args.dialogues, args.out, args.threads, backends))
    print(f"simulate: {row} (load {load:.1f} -> {os.getloadavg()[0]:.1f})")
    llama = engine.llama
    calls, last = [], {}
    for session, prompt, prefix in tracker.calls:
        role = (session or "").rpartition("/")[2]
        resent = prefix == len(prompt) and last.get(session) == len(prompt)
        tail = prompt[prefix:]
        calls.append({"session": session, "role": role, "tokens": len(prompt), "prefix": prefix, "resent": resent,
                      "first": session not in last,
                      "parts": parts(llama, tail) if session in last and not resent else {},
                      "new_text": llama.detokenize(tail, special=True).decode(errors="replace")})
        last[session] = len(prompt)
    (args.out / "calls.json").write_text(json.dumps(calls, indent=1))

    def share(rows: list[dict[str, Any]]) -> str:
        return f"{sum(c['prefix'] for c in rows) / max(1, sum(c['tokens'] for c in rows)):.1%}"

    for role in ("seeker", "supporter", None):
        rows = [c for c in calls if role is None or c["role"] == role]
        fresh = [c for c in rows if not c["resent"]]
        later = [c for c in fresh if c["parts"]]
        mean = {k: round(sum(c["parts"][k] for c in later) / max(1, len(later)), 1)
                for k in ("reply", "message", "markup")}
        first = sum(c["tokens"] for c in fresh if c["first"])
        print(f"{role or 'both roles'}: {len(rows)} calls ({len(rows) - len(fresh)} identical re-sends); prefix "
              f"share {share(rows)}, without re-sends {share(fresh)}; first calls {first:,} tokens; a later call's "
              f"new part, mean tokens: {mean}")


if __name__ == "__main__":
    main()
