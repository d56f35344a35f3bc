#!/usr/bin/env bash
# The full chatbot table on one GPU: base SmolLM2-135M-Instruct vs LoRA fine-tuned on the full ESConv train vs
# fine-tuned on a simulated corpus of the same number of examples (same steps), scored on the full ESConv test
# (every supporter turn) with paired-bootstrap 95% intervals. Writes $OUT/table.md and $OUT/results.json.
#
#   SIM_CORPUS=runs/sim-table/dialogues.jsonl benchmarks/chatbot_gpu.sh
#   benchmarks/chatbot_gpu.sh --device cpu --max-samples 20          # the same on a CPU, 20 turns and examples
#
# Extra arguments go to benchmarks/bench_chatbot.py and override the GPU sizes below (the last one given wins).
# Environment: SIM_CORPUS (simulated corpus, needs ~10,200 supporter turns to match ESConv train: ~1,100
# 20-utterance dialogues), ESCONV (folder with train.jsonl and test.jsonl), OUT, PYTHON.
set -euo pipefail
cd "$(dirname "$0")/.."

ESCONV=${ESCONV:-../shared/data/esconv}
SIM_CORPUS=${SIM_CORPUS:-runs/sim-table/dialogues.jsonl}
OUT=${OUT:-reports/chatbot_gpu}
PYTHON=${PYTHON:-python}

if [[ ! -f "$SIM_CORPUS" && " $* " != *" --sim-corpus "* ]]; then
    echo "error: no simulated corpus at $SIM_CORPUS (set SIM_CORPUS or pass --sim-corpus; make one with" \
         "\`socialsim simulate -n 1100 --out runs/sim-table\`)" >&2
    exit 2
fi

started=$(date +%s)
"$PYTHON" benchmarks/bench_chatbot.py \
    --test "$ESCONV/test.jsonl" --esconv-train "$ESCONV/train.jsonl" --sim-corpus "$SIM_CORPUS" --out "$OUT" \
    --epochs 1 --batch-size 32 --learning-rate 3e-4 --max-length 512 --max-new-tokens 64 --gen-batch-size 128 \
    "$@"
echo "chatbot_gpu.sh: $(( $(date +%s) - started ))s wall; table: $OUT/table.md"
