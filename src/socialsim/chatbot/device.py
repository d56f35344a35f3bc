"""Where the chatbot runs and in which precision: CUDA, then Apple MPS, then the CPU; bf16/fp16 where supported.

``choose_runtime("auto", "auto")`` picks the first available device and its best precision: bf16 on a CUDA GPU
that supports it (fp16 otherwise), fp32 on MPS and on the CPU. A forced device that is not available is an error
that says so; a forced precision the device cannot use falls back (to fp16 on a CUDA GPU without bf16, to fp32 on
the CPU, where mixed precision is slower than fp32 without bf16 matrix units) and the fallback is recorded.
Training keeps fp32 master weights and runs the forward and backward passes in the mixed precision (autocast);
inference loads the weights in that precision.
"""

import platform
import sys
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Literal

from socialsim.errors import SocialsimError

DeviceChoice = Literal["auto", "cuda", "mps", "cpu"]
PrecisionChoice = Literal["auto", "bf16", "fp16", "fp32"]
LIBRARIES = ("torch", "transformers", "peft", "accelerate", "tokenizers", "gguf", "numpy")


@dataclass(frozen=True)
class Runtime:
    device: str  # "cuda", "mps" or "cpu"
    precision: str  # "bf16", "fp16" or "fp32"
    fallback: str | None = None  # why the precision differs from the one asked for

    @property
    def dtype(self) -> Any:
        import torch

        return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[self.precision]

    def describe(self) -> str:
        note = f" ({self.fallback})" if self.fallback else ""
        return f"{device_name(self.device)}, {self.precision}{note}"

    def record(self) -> dict[str, Any]:
        """What a run folder or an evaluation records about where it ran."""
        return {"device": self.device, "device_name": device_name(self.device), "precision": self.precision,
                "precision_fallback": self.fallback, "versions": library_versions()}


def mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def choose_device(requested: str = "auto") -> str:
    """The device to use: ``requested``, or for ``auto`` the first of CUDA, MPS and CPU that torch can use."""
    import torch

    available = {"cuda": torch.cuda.is_available(), "mps": mps_available(), "cpu": True}
    if requested == "auto":
        return next(d for d in ("cuda", "mps", "cpu") if available[d])
    if requested not in available:
        raise SocialsimError(f"unknown device {requested!r}", "choose auto, cuda, mps or cpu")
    if not available[requested]:
        cuda = getattr(torch.version, "cuda", None)
        build = f"torch {torch.__version__}" + (f" built for CUDA {cuda}" if cuda else " built without CUDA")
        raise SocialsimError(f"--device {requested}: no {requested.upper()} device is available to {build}",
                             "use --device auto (the first available of cuda, mps, cpu) or --device cpu")
    return requested


def choose_precision(device: str, requested: str = "auto") -> tuple[str, str | None]:
    """(precision, fallback note or None) for ``device``."""
    import torch

    if requested not in ("auto", "bf16", "fp16", "fp32"):
        raise SocialsimError(f"unknown precision {requested!r}", "choose auto, bf16, fp16 or fp32")
    if device == "cpu":
        if requested in ("bf16", "fp16"):
            return "fp32", f"{requested} asked for, fp32 used: no mixed precision on the CPU"
        return "fp32", None
    if device == "cuda":
        bf16 = torch.cuda.is_bf16_supported()
        if requested == "auto":
            return ("bf16" if bf16 else "fp16"), None
        if requested == "bf16" and not bf16:
            return "fp16", "bf16 asked for, fp16 used: this GPU does not support bf16"
        return requested, None
    return ("fp32" if requested == "auto" else requested), None  # MPS: mixed precision only when asked for


def choose_runtime(device: str = "auto", precision: str = "auto") -> Runtime:
    chosen = choose_device(device)
    return Runtime(chosen, *choose_precision(chosen, precision))


def device_name(device: str) -> str:
    import torch

    if device == "cuda":
        return f"cuda ({torch.cuda.get_device_name(0)})"
    if device == "mps":
        return "mps (Apple GPU)"
    return f"cpu ({platform.machine() or 'unknown'}, {torch.get_num_threads()} torch threads)"


def library_versions() -> dict[str, str]:
    versions = {"python": sys.version.split()[0]}
    for name in LIBRARIES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    import torch

    if torch.version.cuda:
        versions["cuda"] = torch.version.cuda
    return versions


def free_memory(device: str) -> int:
    """Free bytes where the weights will live: the GPU's memory for CUDA, RAM otherwise (MPS shares it)."""
    if device == "cuda":
        import torch

        return int(torch.cuda.mem_get_info()[0])
    import psutil

    return int(psutil.virtual_memory().available)
