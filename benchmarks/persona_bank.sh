#!/usr/bin/env bash
# Persona bank acceptance run: build a bank from the built-in seeds and one from the first 20 ESConv test
# dialogues with the embedded model, then print each bank's stats. Resumable: re-run to finish an interrupted run.
# Usage: benchmarks/persona_bank.sh [OUT_DIR]   (default runs/personas/bench)
# n_threads=1: on a loaded 2-core machine, llama.cpp with 2 threads spin-waits and runs ~15x slower.
set -euo pipefail
OUT=${1:-runs/personas/bench}
ESCONV=${ESCONV:-../shared/data/esconv/test.jsonl}
SS=".venv/bin/socialsim --set roles.extractor.n_threads=1"
mkdir -p "$OUT"
$SS personas build --source builtin --out "$OUT/builtin.jsonl" --no-progress
$SS personas build --source "esconv:$ESCONV" --limit 20 --out "$OUT/esconv20.jsonl" --no-progress
$SS personas stats "$OUT/builtin.jsonl" --json > "$OUT/builtin.stats.json"
$SS personas stats "$OUT/esconv20.jsonl" --json > "$OUT/esconv20.stats.json"
$SS personas stats "$OUT/builtin.jsonl"
$SS personas stats "$OUT/esconv20.jsonl"
