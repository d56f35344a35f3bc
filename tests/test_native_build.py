"""The llama.cpp build runs on any CPU of its architecture, and a native crash becomes one clear line."""

import os
import platform
import subprocess
import sys

import pytest

from socialsim.errors import BackendError
from socialsim.llm import native_probe
from socialsim.llm.embedded import embedded_model_path
from socialsim.llm.llamacpp_build import (
    forbidden_instructions,
    installed_cpu_library,
    portable_cmake_args,
    wheel_key,
)

SEGFAULT = [sys.executable, "-c", "import ctypes; ctypes.string_at(0)"]  # a real SIGSEGV in native code
SIGILL = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGILL)"]


def test_portable_flags_never_target_the_build_machine():
    for machine in ("x86_64", "aarch64", "arm64"):
        args = portable_cmake_args(machine)
        assert "-DGGML_NATIVE=OFF" in args and "-DGGML_NATIVE=ON" not in args
        assert not any("march=native" in a or "mcpu=native" in a for a in args)
    x86 = portable_cmake_args("x86_64")
    assert "-DGGML_AVX2=ON" in x86 and "-DGGML_AVX512=OFF" in x86 and "-DGGML_AMX_INT8=OFF" in x86
    assert any(a.startswith("-DGGML_CPU_ARM_ARCH=armv8.2-a") for a in portable_cmake_args("aarch64"))


def test_wheels_built_with_other_flags_or_versions_live_in_other_folders():
    args = portable_cmake_args("x86_64")
    assert wheel_key(args) == wheel_key(list(args))
    assert wheel_key(args) != wheel_key([*args, "-DGGML_AVX512=ON"])
    assert wheel_key(args) != wheel_key(args, version="0.3.35")


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="x86-64 instruction check")
def test_installed_cpu_library_has_no_amx_or_avx512_instruction():
    library = installed_cpu_library()
    assert forbidden_instructions(library) == [], f"{library} was not built with the portable flags"


@pytest.mark.parametrize(("command", "signal_name"), [(SEGFAULT, "SIGSEGV"), (SIGILL, "SIGILL")])
def test_a_native_crash_in_the_probe_is_one_line_with_the_fix(command, signal_name, tmp_path):
    with pytest.raises(BackendError) as caught:
        native_probe.run_probe(tmp_path / "model.gguf", command=command)
    message = str(caught.value)
    assert signal_name in message and "socialsim models build-llama" in message
    assert "\n" not in message


def test_the_cli_turns_a_native_crash_into_one_line_and_a_nonzero_exit():
    """`socialsim models check` on a library that segfaults: no bare 'Segmentation fault', no traceback."""
    code = (
        "import sys\n"
        "from socialsim.llm import native_probe\n"
        f"native_probe.probe_command = lambda model: {SEGFAULT!r}\n"
        "from socialsim.cli.main import main\n"
        "sys.argv = ['socialsim', 'models', 'check']\n"
        "main()\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: llama.cpp crashed in native code (SIGSEGV)"), lines
    assert "socialsim models build-llama" in lines[0]


@pytest.mark.slow
def test_the_real_probe_passes_and_is_remembered(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    native_probe.ensure_native_ok.cache_clear()
    model = embedded_model_path()
    report = native_probe.ensure_native_ok(model)
    assert "AVX2 = 1" in report["system_info"] or platform.machine().lower() not in ("x86_64", "amd64")
    assert "AMX_INT8 = 1" not in report["system_info"]
    cached = list((tmp_path / "socialsim" / "native-probe").glob("*.json"))
    assert len(cached) == 1
    # A second process finds the cached result and does not start a probe.
    native_probe.ensure_native_ok.cache_clear()
    monkeypatch.setattr(native_probe, "probe_command", lambda _: SEGFAULT)
    assert native_probe.ensure_native_ok(model) == report
    assert os.environ["XDG_CACHE_HOME"] == str(tmp_path)
