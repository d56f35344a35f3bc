"""Build llama-cpp-python for *any* CPU of the user's architecture, never for the build machine only.

pip compiles llama-cpp-python from source, and llama.cpp's default build (``GGML_NATIVE=ON``) targets the build
machine's own CPU. On cloud VMs whose CPU reports AMX but does not let a process use it, that turns on the AMX
kernels and the first decode dies with SIGSEGV. We build with explicit, portable instruction sets instead:

- x86-64: AVX2 + FMA + F16C + BMI2 (every x86-64 CPU since 2013/2015), no AVX-512, no AMX. One library that runs on
  AVX2-only, AVX-512 and AMX-reporting CPUs alike. llama.cpp's runtime CPU-variant dispatch (``GGML_BACKEND_DL``)
  would pick the AMX variant on exactly the VMs that crash, and llama-cpp-python 0.3.36 never loads dynamic
  backends, so we do not use it. BENCHMARKS.md has the decode speed of this build against the native one.
- arm64: ARMv8.2-A with dot product and fp16 arithmetic (Apple M1 and later, AWS Graviton2 and later).

pip caches a built wheel by the source archive only, not by ``CMAKE_ARGS``: a wheel built earlier with other flags
would be reused silently. We therefore build with ``--no-cache-dir`` into a folder keyed by the version, the flags
and the Python/platform tags, and install from that folder.

Run ``socialsim models build-llama`` (or ``python -m socialsim.llm.llamacpp_build``).
"""

import argparse
import hashlib
import os
import platform
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

LLAMA_CPP_PYTHON_VERSION = "0.3.36"

_COMMON = ["-DGGML_NATIVE=OFF", "-DGGML_OPENMP=ON", "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF",
           "-DLLAMA_BUILD_TOOLS=OFF", "-DLLAMA_BUILD_SERVER=OFF",
           "-DLLAVA_BUILD=OFF"]  # multimodal helpers: unused here, and a third of the compile time
_X86 = ["-DGGML_SSE42=ON", "-DGGML_AVX=ON", "-DGGML_F16C=ON", "-DGGML_FMA=ON", "-DGGML_AVX2=ON", "-DGGML_BMI2=ON",
        "-DGGML_AVX_VNNI=OFF", "-DGGML_AVX512=OFF", "-DGGML_AVX512_VBMI=OFF", "-DGGML_AVX512_VNNI=OFF",
        "-DGGML_AVX512_BF16=OFF", "-DGGML_AMX_TILE=OFF", "-DGGML_AMX_INT8=OFF", "-DGGML_AMX_BF16=OFF"]
_ARM64 = ["-DGGML_CPU_ARM_ARCH=armv8.2-a+dotprod+fp16"]


def portable_cmake_args(machine: str | None = None) -> list[str]:
    """The CMake flags of the portable build for ``machine`` (default: this one, as ``platform.machine()``)."""
    arch = (machine or platform.machine()).lower()
    if arch in ("x86_64", "amd64"):
        return _COMMON + _X86
    if arch in ("arm64", "aarch64"):
        return _COMMON + _ARM64
    return list(_COMMON)  # other architectures: llama.cpp's generic build for that architecture


def wheel_key(cmake_args: list[str], version: str = LLAMA_CPP_PYTHON_VERSION) -> str:
    """A folder name that changes whenever the version, the flags, the Python or the platform changes."""
    tag = f"{version}|{' '.join(cmake_args)}|{sys.implementation.cache_tag}|{sysconfig.get_platform()}"
    return f"llama-cpp-python-{version}-{hashlib.sha256(tag.encode()).hexdigest()[:12]}"


# Instructions the portable x86-64 build must not contain: AMX (tile configuration, loads, dot products) and any
# AVX-512 register (zmm, mask registers k0-k7).
_FORBIDDEN_X86 = re.compile(
    r"\b(ldtilecfg|sttilecfg|tileloadd\w*|tilestored|tilezero|tilerelease|tdp\w+)\b|%zmm\d+|%k[0-7]\b")


def forbidden_instructions(library: Path, limit: int = 5) -> list[str]:
    """Disassembly lines of ``library`` that use an instruction the portable x86-64 build rules out (needs
    binutils' objdump). Empty for a portable build."""
    listing = subprocess.run(["objdump", "-d", "--no-show-raw-insn", str(library)], capture_output=True, text=True,
                             check=True).stdout
    hits = []
    for line in listing.splitlines():
        if _FORBIDDEN_X86.search(line):
            hits.append(line.strip())
            if len(hits) >= limit:
                break
    return hits


def installed_cpu_library() -> Path:
    """The ggml CPU backend library of the installed llama-cpp-python (found without importing it)."""
    import importlib.util

    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("llama-cpp-python is not installed")
    lib = Path(next(iter(spec.submodule_search_locations))) / "lib"
    found = sorted(lib.glob("libggml-cpu*.so")) or sorted(lib.glob("libggml-cpu*.dylib")) or sorted(
        lib.glob("libggml*.so"))
    if not found:
        raise FileNotFoundError(f"no ggml CPU library in {lib}")
    return found[0]


def default_wheel_root() -> Path:
    """Where built wheels are kept when no folder is given: the user's cache, shared by projects."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "socialsim" / "wheels"


def build_and_install(wheel_root: Path | None = None, python: str = sys.executable, rebuild: bool = False,
                      echo=print) -> Path:
    """Build the portable wheel unless the keyed folder has one, then install it into ``python``'s environment.

    Returns the wheel's path. Raises ``subprocess.CalledProcessError`` when pip fails (its output was shown).
    """
    args = portable_cmake_args()
    folder = (wheel_root or default_wheel_root()) / wheel_key(args)
    wheels = sorted(folder.glob("llama_cpp_python-*.whl"))
    if rebuild or not wheels:
        folder.mkdir(parents=True, exist_ok=True)
        for stale in wheels:
            stale.unlink()
        echo(f"building llama-cpp-python {LLAMA_CPP_PYTHON_VERSION} with portable CPU flags (a few minutes):")
        echo("  CMAKE_ARGS=" + " ".join(args))
        env = dict(os.environ, CMAKE_ARGS=" ".join(args), FORCE_CMAKE="1",
                   CMAKE_BUILD_PARALLEL_LEVEL=os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 1)))
        subprocess.run([python, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-cache-dir",
                        "--no-binary", "llama-cpp-python", f"llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION}",
                        "--wheel-dir", str(folder)], env=env, check=True)
        wheels = sorted(folder.glob("llama_cpp_python-*.whl"))
    else:
        echo(f"using the portable llama-cpp-python wheel built earlier: {folder}")
    wheel = wheels[-1]
    # --no-deps: its Python dependencies (numpy, jinja2, ...) come with socialsim's own install.
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--force-reinstall", str(wheel)],
                   check=True)
    return wheel


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wheel-dir", type=Path, default=None,
                        help=f"folder of built wheels, keyed by flags (default: {default_wheel_root()})")
    parser.add_argument("--rebuild", action="store_true", help="build again even if a wheel for these flags exists")
    parser.add_argument("--print-flags", action="store_true", help="print the CMake flags for this machine and exit")
    ns = parser.parse_args(argv)
    if ns.print_flags:
        print(" ".join(portable_cmake_args()))
        return 0
    try:
        build_and_install(ns.wheel_dir, rebuild=ns.rebuild)
    except subprocess.CalledProcessError as exc:
        print(f"building llama-cpp-python failed (pip exited with {exc.returncode}); its output is above",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
