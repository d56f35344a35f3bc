"""Typed configuration of the LLM backends: one settings class per backend, chosen by the ``backend`` key.

Every class forbids unknown keys, so a key that does not apply to the chosen backend (``n_threads`` on an
``openai`` role, ``base_url`` on ``llamacpp``) is an error naming the backend and its keys, never silently
ignored. A third-party backend declares its own settings class (``Backend.settings_class``).

``output_fields`` names what changes a model's replies; the request cache and a run's fingerprint key on it, so
two servers serving one model name never share cache entries.
"""

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

StructuredMode = Literal["json_schema", "json_object", "none"]


class BackendSettings(BaseModel):
    """The keys every backend understands."""

    model_config = ConfigDict(extra="forbid")
    # Keys that only change speed or plumbing, never a reply (left out of cache keys and fingerprints).
    speed_only: ClassVar[frozenset[str]] = frozenset()

    backend: str = Field("llamacpp", description="Registry name of the backend: 'llamacpp' or 'openai'.")
    model: str | None = Field(
        None, description="llamacpp: path of a GGUF file (unset = embedded SmolLM2-135M-Instruct Q4_1); "
        "openai: the model name the server expects.")
    temperature: float = Field(0.7, ge=0, description="Sampling temperature.")
    top_p: float = Field(0.95, gt=0, le=1, description="Nucleus sampling mass.")
    max_tokens: int = Field(256, ge=1, description="Default cap on generated tokens per call.")
    seed: int = Field(0, description="Sampling seed (requests derive their own seeds from it).")

    def output_fields(self) -> dict[str, Any]:
        """The settings that change what the model says."""
        return self.model_dump(mode="json", exclude=set(self.speed_only))


COMMON_KEYS = frozenset(BackendSettings.model_fields)


class LlamaCppSettings(BackendSettings):
    """A GGUF model run in-process by llama.cpp (the embedded default)."""

    speed_only: ClassVar[frozenset[str]] = frozenset({"n_threads", "parallel", "n_gpu_layers", "max_sessions"})

    backend: Literal["llamacpp"] = "llamacpp"
    n_threads: int | None = Field(None, ge=1, description="CPU threads in all (unset = number of cores, max 8).")
    parallel: int | None = Field(
        None, ge=1, description="Contexts decoding side by side, each with n_threads / parallel threads and "
        "max_sessions / parallel sequences that share its forward passes (unset = 2 on a machine with 2 or more "
        "cores, else 1). With one thread per context, the first decodes on every thread while the others are idle, "
        "if its timed passes show that is faster.")
    n_ctx: int = Field(4096, ge=256, description="Context window of one call (one sequence) in tokens.")
    n_gpu_layers: int = Field(0, description="Layers to offload to a GPU (-1 = all).")
    max_sessions: int = Field(
        8, ge=1, description="Sequences kept, each with its own KV cache of n_ctx tokens (one per dialogue role, "
        "so a new turn only evaluates its new tokens); calls in flight beyond this many wait.")
    repeat_penalty: float = Field(1.1, ge=0, description="Repetition penalty (1.0 = off).")

    @model_validator(mode="after")
    def _check_parallel(self) -> "LlamaCppSettings":
        if self.parallel is not None and self.parallel > self.max_sessions:
            raise ValueError(f"parallel ({self.parallel}) needs at least as many sequences: raise max_sessions "
                             f"({self.max_sessions})")
        return self


class OpenAISettings(BackendSettings):
    """Any OpenAI-compatible Chat Completions server: vLLM, Ollama, llama.cpp server, LM Studio, hosted APIs."""

    speed_only: ClassVar[frozenset[str]] = frozenset({
        "api_key_env", "max_concurrency", "requests_per_minute", "tokens_per_minute", "timeout_s", "max_retries",
        "backoff_base_s", "backoff_max_s"})

    backend: Literal["openai"] = "openai"
    base_url: str | None = Field(None, description="Server URL ending in /v1, e.g. http://127.0.0.1:8000/v1.")
    api_key_env: str = Field(
        "OPENAI_API_KEY", description="Name of the environment variable holding the API key (optional).")
    max_concurrency: int = Field(8, ge=1, description="Most requests in flight to this endpoint.")
    requests_per_minute: float | None = Field(
        None, gt=0, description="Most requests per minute to this endpoint and model, spread evenly (unset = no "
        "limit; retries count).")
    tokens_per_minute: float | None = Field(
        None, gt=0, description="Most tokens per minute to this endpoint and model, estimated before each call as "
        "prompt characters / 4 + max_tokens (unset = no limit).")
    timeout_s: float = Field(120.0, gt=0, description="Timeout of one request in seconds.")
    max_retries: int = Field(5, ge=0, description="Retries on timeouts, connection errors, 429 and 5xx.")
    backoff_base_s: float = Field(0.5, gt=0, description="First backoff (jittered, doubles each retry).")
    backoff_max_s: float = Field(30.0, gt=0, description="Longest single backoff.")
    structured_output: StructuredMode = Field(
        "json_schema", description="How to request JSON: response_format json_schema, json_object (+schema), or "
        "none (prompt only; parsed and repaired all the same).")
    extra_body: dict[str, object] = Field(
        default_factory=dict, description="Extra request fields for server-specific options, e.g. vLLM's "
        "{repetition_penalty: 1.1}.")
