"""Finding and loading chatbot models with transformers: trained run folders, HF folders, hub ids and GGUF files.

The default base model is the embedded SmolLM2-135M-Instruct GGUF, which transformers de-quantises. Before any
weight is loaded the parameter count is measured on the meta device and compared with the free memory of the
device (GPU memory on CUDA, RAM otherwise), so a model too big for it is a clear error instead of an out-of-memory
kill. Models for training are loaded in fp32 (the Trainer adds mixed precision); models for inference in the
runtime's precision, on its device.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from socialsim.chatbot.device import Runtime, free_memory
from socialsim.errors import SocialsimError
from socialsim.llm.embedded import embedded_model_path

EMBEDDED = "embedded"
MODEL_DIR = "model"  # the final model inside a training run folder
META_FILE = "socialsim_chatbot.json"  # written last into a trained model: target format, base model, data hash


class ModelLoadError(SocialsimError):
    """A model path that is not a model, or a model that cannot be loaded here."""


@dataclass(frozen=True)
class ModelSource:
    """Where a model's weights are: ``path`` (folder or hub id) plus the GGUF file name inside it, if any."""

    spec: str
    path: str
    gguf_file: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)  # socialsim_chatbot.json of a trained model

    @property
    def name(self) -> str:
        if self.spec == EMBEDDED:
            return "smollm2-135m-base"
        return Path(self.spec.rstrip("/")).name or self.spec

    def load_kwargs(self) -> dict[str, Any]:
        return {"gguf_file": self.gguf_file} if self.gguf_file else {}


def resolve_model(spec: str | None) -> ModelSource:
    """Turn a user's MODEL argument into a :class:`ModelSource`, or raise a :class:`ModelLoadError` that says why."""
    if spec is None or spec == EMBEDDED:
        gguf = embedded_model_path()
        return ModelSource(EMBEDDED, str(gguf.parent), gguf.name)
    path = Path(spec).expanduser()
    if path.is_file():
        if path.suffix != ".gguf":
            raise ModelLoadError(f"{path} is a file but not a .gguf model",
                                 "give a model folder (with config.json), a .gguf file, a hub id or 'embedded'")
        return ModelSource(spec, str(path.parent), path.name)
    if path.is_dir():
        if (path / MODEL_DIR).is_dir():  # a training run folder
            path = path / MODEL_DIR
        elif (path / "run.json").is_file() or any(path.glob(f"{MODEL_DIR}.tmp*")):
            raise ModelLoadError(f"{spec}: is an unfinished training run (no finished model/ inside)",
                                 "run the same `socialsim train` command again to resume")
        if (path / "config.json").is_file():
            meta_path = path / META_FILE
            meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
            return ModelSource(spec, str(path), None, meta)
        ggufs = sorted(path.glob("*.gguf"))
        if len(ggufs) == 1:
            return ModelSource(spec, str(path), ggufs[0].name)
        raise ModelLoadError(f"{spec} is not a model folder (no config.json{', several .gguf' if ggufs else ''})",
                             "give a folder written by `socialsim train`, a transformers model folder, a .gguf "
                             "file, a hub id or 'embedded'")
    if spec.count("/") == 1 and not spec.startswith((".", "/", "~")):
        return ModelSource(spec, spec)  # a hub id: transformers downloads or finds it in its cache
    raise ModelLoadError(f"model not found: {spec}", "give an existing folder, a .gguf file, a hub id "
                         "(owner/name) or 'embedded'")


def parameter_count(source: ModelSource) -> int:
    """Exact parameter count from the config alone (the model is built on the meta device, no weights read)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    if source.gguf_file:  # the tensor table of a GGUF is read in seconds; its config through transformers is slow
        from gguf import GGUFReader

        return sum(int(t.n_elements) for t in GGUFReader(Path(source.path) / source.gguf_file).tensors)
    try:
        config = AutoConfig.from_pretrained(source.path, **source.load_kwargs())
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(config)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelLoadError(f"cannot read the model config of {source.spec}: {exc}",
                             "is it a causal language model folder, .gguf file or hub id?") from None
    return sum(p.numel() for p in model.parameters())


def check_memory(source: ModelSource, *, training: str | None = None, fraction: float = 0.8,
                 runtime: Runtime | None = None) -> int:
    """Raise if the model (plus gradients and Adam state for full training) will not fit in the device's memory."""
    params = parameter_count(source)
    device = runtime.device if runtime else "cpu"
    # training: fp32 weights (+ grads + 2 Adam moments for full); inference: the runtime's precision; plus slack
    precision = "fp32" if training or runtime is None else runtime.precision
    width = 4 if precision == "fp32" else 2
    factor = {"full": 4.5, "lora": 1.5}.get(training or "", 1.2)
    need = int(params * width * factor)
    available = free_memory(device)
    if need > fraction * available:
        what = f"{training} training" if training else "inference"
        where = "GPU memory" if device == "cuda" else "RAM"
        raise ModelLoadError(
            f"{source.spec} has {params / 1e6:,.0f} M parameters: {what} in {precision} needs about "
            f"{need / 2**30:.1f} GiB but only {available / 2**30:.1f} GiB of {where} is free",
            "use a smaller model (the default SmolLM2-135M needs ~1 GiB), LoRA instead of full fine-tuning, or a "
            "machine with more memory")
    return params


def load_tokenizer(source: ModelSource) -> Any:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(source.path, **source.load_kwargs())
    except (OSError, ValueError, KeyError) as exc:
        raise ModelLoadError(f"cannot load the tokenizer of {source.spec}: {exc}") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not getattr(tokenizer, "chat_template", None):
        raise ModelLoadError(f"{source.spec} has no chat template", "use an instruction-tuned (chat) model")
    return tokenizer


def load_model(source: ModelSource, *, training: str | None = None, fraction: float = 0.8,
               runtime: Runtime | None = None) -> tuple[Any, Any]:
    """(model, tokenizer) after the memory check: fp32 for training (left on the CPU: the Trainer places it),
    the runtime's precision on its device for inference (fp32 on the CPU without a runtime)."""
    import torch
    from transformers import AutoModelForCausalLM

    check_memory(source, training=training, fraction=fraction, runtime=runtime)
    tokenizer = load_tokenizer(source)
    dtype = runtime.dtype if runtime is not None and not training else torch.float32
    try:
        model = AutoModelForCausalLM.from_pretrained(source.path, dtype=torch.float32, **source.load_kwargs())
    except (OSError, ValueError, KeyError) as exc:
        raise ModelLoadError(f"cannot load the weights of {source.spec}: {exc}") from None
    if getattr(model, "hf_quantizer", None) is not None and source.gguf_file:
        # transformers de-quantises GGUF weights to plain fp32 tensors but keeps a GGUF "quantizer" on the model,
        # which makes the Trainer and save_pretrained refuse it; the weights really are ordinary fp32.
        model.hf_quantizer.remove_quantization_config(model)
    if model.generation_config is not None and model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    if runtime is not None and not training:
        model = model.to(device=runtime.device, dtype=dtype)
    return model, tokenizer
