"""Prototype of the other way to batch a local model: llama.cpp's own ``llama-server``, built from the source that
llama-cpp-python vendors with the same portable CPU flags, started as a child process with ``--parallel N`` slots
(continuous batching) and driven through socialsim's OpenAI-compatible backend. Each session (a dialogue role) is
pinned to a slot with ``id_slot`` and the server keeps its prompt (``cache_prompt``), so, as in-process, a role's
next turn evaluates only its new tokens. A benchmark harness, not a product feature: BENCHMARKS.md "Simulation
throughput" says why the in-process engine (socialsim.llm.batched) was chosen.

    python benchmarks/llama_server.py --build DIR          # compile llama-server into DIR (portable flags)
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import httpx

from socialsim.llm.config import OpenAISettings
from socialsim.llm.llamacpp_build import LLAMA_CPP_PYTHON_VERSION, portable_cmake_args
from socialsim.llm.openai_compat import OpenAIBackend
from socialsim.llm.stats import RunStats
from socialsim.llm.types import ChatRequest, Completion, Usage


def build(out: Path, source: Path | None = None) -> Path:
    """Compile ``llama-server`` from llama-cpp-python's sdist (fetched with pip unless ``source`` is its unpacked
    folder) with the portable flags; returns the binary."""
    if source is None:
        download = out / "sdist"
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--dest",
                        str(download), f"llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION}"], check=True)
        archive = next(download.glob("llama_cpp_python-*.tar.gz"))
        subprocess.run(["tar", "-xzf", str(archive), "-C", str(download)], check=True)
        source = next(p for p in download.iterdir() if p.is_dir())
    flags = [f.replace("TOOLS=OFF", "TOOLS=ON").replace("SERVER=OFF", "SERVER=ON") for f in portable_cmake_args()]
    build_dir = out / "build"
    subprocess.run(["cmake", "-S", str(source / "vendor" / "llama.cpp"), "-B", str(build_dir),
                    "-DCMAKE_BUILD_TYPE=Release", "-DBUILD_SHARED_LIBS=OFF", "-DLLAMA_CURL=OFF", "-DLLAMA_OPENSSL=OFF",
                    *flags], check=True)
    subprocess.run(["cmake", "--build", str(build_dir), "--target", "llama-server", "-j", str(os.cpu_count() or 1)],
                   check=True)
    return build_dir / "bin" / "llama-server"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LlamaServer:
    """``llama-server`` in a child process (``with LlamaServer(bin, model, slots, ctx, threads) as s: s.base_url``)."""

    def __init__(self, binary: Path, model: Path, slots: int, n_ctx_per_slot: int, threads: int) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.slots = slots
        self.command = [str(binary), "-m", str(model), "--host", "127.0.0.1", "--port", str(self.port),
                        "--parallel", str(slots), "--ctx-size", str(slots * n_ctx_per_slot), "--threads",
                        str(threads), "--threads-batch", str(threads), "--no-webui", "--cont-batching",
                        "--no-kv-unified", "--cache-ram", "0", "--slot-prompt-similarity", "0", "--log-disable"]
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "LlamaServer":
        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"llama-server exited with {self.process.returncode}: "
                                   f"{self.process.stderr.read().decode()[-2000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError("llama-server did not become healthy in 120 s")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def cpu_seconds(self) -> float:
        """User + system CPU seconds the server process has used (Linux /proc)."""
        assert self.process is not None
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class SlotPinnedBackend(OpenAIBackend):
    """The OpenAI-compatible backend, plus llama-server's ``id_slot`` (one slot per session, a new session taking
    the least recently used slot of the same role), ``cache_prompt`` and the sampling fields llama-cpp-python
    uses (top_k 40, min_p 0.05, repeat_penalty); prompt tokens evaluated come from the server's timings."""

    def __init__(self, config: OpenAISettings, slots: int, repeat_penalty: float,
                 stats: RunStats | None = None) -> None:
        super().__init__(config, stats)
        self.slots, self.repeat_penalty = slots, repeat_penalty
        self._slot_of: OrderedDict[str, int] = OrderedDict()  # session -> slot, least recently used first

    def _slot(self, session: str | None) -> int:
        if session is None:
            return -1
        if session in self._slot_of:
            self._slot_of.move_to_end(session)
            return self._slot_of[session]
        if len(self._slot_of) < self.slots:
            slot = len(self._slot_of)
        else:
            role = session.rpartition("/")[2]
            old = next((s for s in self._slot_of if s.rpartition("/")[2] == role), next(iter(self._slot_of)))
            slot = self._slot_of.pop(old)
        self._slot_of[session] = slot
        return slot

    def _payload(self, request: ChatRequest) -> dict[str, Any]:
        payload = super()._payload(request)
        payload.update(id_slot=self._slot(request.session), cache_prompt=True, top_k=40, min_p=0.05,
                       repeat_penalty=self.repeat_penalty)
        return payload

    def _parse(self, response: Any, latency: float) -> Completion:
        result = super()._parse(response, latency)
        timings = json.loads(response.body).get("timings") or {}
        evaluated = int(timings.get("prompt_n", result.usage.prompt_tokens_evaluated))
        self.stats.add(prompt_tokens_evaluated=evaluated - (result.usage.prompt_tokens_evaluated or 0))
        return Completion(result.text, result.model, Usage(result.usage.prompt_tokens, result.usage.completion_tokens,
                                                           evaluated), result.latency_s, result.finish_reason)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", type=Path, required=True, help="folder to build llama-server in")
    parser.add_argument("--source", type=Path, default=None, help="an unpacked llama-cpp-python sdist (else pip)")
    args = parser.parse_args()
    print(build(args.build, args.source))


if __name__ == "__main__":
    main()
