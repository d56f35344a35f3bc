"""Run llama.cpp once in a child process before this process relies on it, so a native crash becomes a clear error.

A llama-cpp-python compiled for another CPU does not fail politely: the process dies with SIGSEGV (AMX kernels on
a VM that reports AMX but does not allow it) or SIGILL (AVX-512 code on an AVX2-only CPU) at the first decode,
and the user sees only "Segmentation fault". Before the first use of the embedded backend in a process, we load
the model and decode a few tokens in a child process. If the child dies from a signal, we raise one
:class:`~socialsim.errors.BackendError` line naming the cause and the fix.

A passing probe is remembered in the user's cache, keyed by the library files, the model file and the CPU, so
it runs once per build and machine (about a second), not once per command.
"""

import hashlib
import json
import os
import platform
import signal
import subprocess
import sys
from functools import cache
from pathlib import Path

from socialsim.errors import BackendError

FIX = "rebuild llama-cpp-python with portable CPU flags: `socialsim models build-llama` (a few minutes)"
PROBE_TIMEOUT_S = 300


def probe_command(model_path: Path) -> list[str]:
    """The child process: load ``model_path`` with llama.cpp, decode a few tokens, print its system info."""
    return [sys.executable, "-m", "socialsim.llm.native_probe", str(model_path)]


def _cpu_signature() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            flags = next((line for line in handle if line.startswith(("flags", "Features"))), "")
    except OSError:
        flags = ""
    return f"{platform.machine()}|{platform.processor()}|{flags.strip()}"


def _library_signature() -> str:
    """Names, sizes and modification times of the installed llama.cpp libraries (found without importing them)."""
    import importlib.util

    from socialsim.extras import installed

    spec = importlib.util.find_spec("llama_cpp") if installed("llama_cpp") else None
    if spec is None or not spec.submodule_search_locations:
        raise BackendError("llama-cpp-python is not installed",
                           "install the local extra: pip install 'socialsim[local]' (or run `make run`)")
    lib = Path(next(iter(spec.submodule_search_locations))) / "lib"
    parts = [f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in sorted(lib.glob("*")) if p.is_file()]
    return f"{lib}|{'|'.join(parts)}"


def _cache_file(model_path: Path) -> Path:
    stat = model_path.stat()
    key = "|".join([_library_signature(), _cpu_signature(), str(model_path), str(stat.st_size), sys.executable])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "socialsim" / "native-probe" / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"


def _signal_name(returncode: int) -> str:
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


def run_probe(model_path: Path, command: list[str] | None = None) -> dict[str, str]:
    """Probe now (no cache). Returns the child's report; raises BackendError if it crashed or failed."""
    command = command or probe_command(model_path)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise BackendError(f"llama.cpp did not finish a 4-token test decode of {model_path.name} in "
                           f"{PROBE_TIMEOUT_S}s", "is the machine overloaded? try again") from None
    if done.returncode < 0:
        name = _signal_name(done.returncode)
        raise BackendError(f"llama.cpp crashed in native code ({name}) on a test decode: this llama-cpp-python build "
                           f"does not run on this CPU ({platform.machine()}); {FIX}")
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise BackendError(f"llama.cpp could not load or run {model_path}: {last}",
                           "is it a GGUF model file? is llama-cpp-python installed (socialsim[local])?")
    try:
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        return {"system_info": "", "output": done.stdout.strip()[-200:]}


@cache
def ensure_native_ok(model_path: Path, fresh: bool = False) -> dict[str, str]:
    """Probe once per process, and once per library build, model and CPU across processes (cached on disk);
    ``fresh`` probes again even if the disk cache has a result."""
    model_path = Path(model_path)
    cache_file = _cache_file(model_path)
    if cache_file.is_file() and not fresh:
        try:
            return json.loads(cache_file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            pass
    report = run_probe(model_path)
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(report), encoding="utf-8")
        os.replace(tmp, cache_file)
    except OSError:
        pass  # a read-only home only costs a probe per process
    return report


def _child(model_path: str) -> None:
    import llama_cpp

    llm = llama_cpp.Llama(model_path=model_path, n_ctx=256, n_threads=1, n_threads_batch=1, verbose=False)
    out = llm.create_completion("Hello", max_tokens=4, temperature=0.0)
    info = llama_cpp.llama_print_system_info().decode(errors="replace").strip()
    print(json.dumps({"system_info": info, "output": out["choices"][0]["text"]}))


if __name__ == "__main__":
    _child(sys.argv[1])
