"""Typed settings of the chatbot stage (plain data; the dataset, trainer and evaluator do the work)."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from socialsim.chatbot.device import DeviceChoice, PrecisionChoice


class DatasetConfig(BaseModel):
    """How a corpus becomes training examples (one per supporter turn: history -> reply)."""

    model_config = ConfigDict(extra="forbid")
    include_strategy: bool = Field(
        False, description="Put the turn's strategy before the reply in the target, as '[Strategy] reply'.")
    include_reasoning: bool = Field(
        False, description="Put the supporter's reasoning (simulated corpora) before the reply in the target.")
    max_length: int = Field(
        512, ge=32, description="Most tokens per example (prompt + target); the oldest turns are dropped to fit.")
    max_history_turns: int | None = Field(
        None, ge=1, description="Keep at most this many previous turns as context (unset = all that fit).")
    validation_fraction: float = Field(
        0.05, ge=0, lt=1, description="Share of dialogues (by hashed id: a dialogue never straddles) for validation.")
    split_seed: int = Field(0, description="Salt of the dialogue-id hash that decides the train/validation split.")
    max_examples: int | None = Field(
        None, ge=1, description="Train on a seeded random sample of this many examples (unset = all).")
    sample_seed: int = Field(0, description="Seed of the max_examples sample.")
    cache_dir: str | None = Field(
        None, description="Where tokenised training data is cached, keyed by corpus, these options and tokenizer "
        "(unset = $XDG_CACHE_HOME/socialsim/chatbot-data, i.e. ~/.cache/socialsim/chatbot-data).")


class TrainingConfig(BaseModel):
    """Fine-tuning with the transformers Trainer (loss on the supporter reply only), on chatbot.device."""

    model_config = ConfigDict(extra="forbid")
    base_model: str | None = Field(
        None, description="Base model: a local HF folder, a hub id, a .gguf file, or unset = the embedded "
        "SmolLM2-135M-Instruct GGUF (de-quantised by transformers).")
    method: Literal["lora", "full"] = Field("lora", description="PEFT LoRA adapters (merged at the end) or full.")
    lora_r: int = Field(16, ge=1, description="LoRA rank.")
    lora_alpha: int = Field(32, ge=1, description="LoRA scaling alpha.")
    lora_dropout: float = Field(0.05, ge=0, lt=1, description="LoRA dropout.")
    lora_target_modules: str | list[str] = Field(
        "all-linear", description="Modules that get LoRA adapters ('all-linear' or a list of module names).")
    learning_rate: float = Field(2e-4, gt=0, description="Peak learning rate (use ~2e-5 for full fine-tuning).")
    epochs: float = Field(1.0, gt=0, description="Passes over the training set.")
    max_steps: int | None = Field(None, ge=1, description="Stop after this many optimiser steps (overrides epochs).")
    batch_size: int = Field(4, ge=1, description="Examples per device step.")
    gradient_accumulation_steps: int = Field(1, ge=1, description="Steps accumulated per optimiser update.")
    warmup_ratio: float = Field(0.05, ge=0, lt=1, description="Share of steps with a linear learning-rate warm-up.")
    save_steps: int = Field(25, ge=1, description="Checkpoint every N optimiser steps (resume picks the last).")
    logging_steps: int = Field(5, ge=1, description="Log the training loss every N steps (the curve's points).")
    eval_steps: int | None = Field(
        None, ge=1, description="Validation loss every N steps (unset = once at the end; none without validation).")
    activation_checkpointing: bool = Field(
        False, description="Recompute activations in the backward pass to save memory (slower; a 135M model fits "
        "easily without it).")
    seed: int = Field(0, description="Seed of the trainer (initialisation, shuffling, dropout).")
    n_threads: int | None = Field(None, ge=1, description="torch CPU threads (unset = torch's default).")
    memory_fraction: float = Field(
        0.8, gt=0, le=1, description="Refuse a model whose estimated memory need exceeds this share of the free "
        "memory of the device (GPU memory on CUDA, RAM otherwise).")


class GenerationConfig(BaseModel):
    """Decoding for evaluation, chat and interactive evaluation."""

    model_config = ConfigDict(extra="forbid")
    max_new_tokens: int = Field(64, ge=1, description="Most tokens generated per reply.")
    batch_size: int = Field(8, ge=1, description="Prompts generated together (left-padded) in evaluation.")
    do_sample: bool = Field(False, description="Sample instead of greedy decoding (evaluation default: greedy).")
    temperature: float = Field(0.7, gt=0, description="Sampling temperature (only with do_sample).")
    top_p: float = Field(0.95, gt=0, le=1, description="Nucleus sampling mass (only with do_sample).")
    repetition_penalty: float = Field(1.0, gt=0, description="HF repetition penalty (1.0 = off).")
    no_repeat_ngram_size: int = Field(0, ge=0, description="Forbid repeating n-grams of this size (0 = off).")
    seed: int = Field(0, description="Seed for sampling and for the --max-samples evaluation sample.")


class ChatbotConfig(BaseModel):
    """Stage 6: training set, fine-tuning and decoding settings of the support chatbot."""

    model_config = ConfigDict(extra="forbid")
    device: DeviceChoice = Field(
        "auto", description="Where models train and generate: auto = the first of cuda, mps and cpu available.")
    precision: PrecisionChoice = Field(
        "auto", description="auto = bf16 on a CUDA GPU that supports it (else fp16), fp32 on MPS and the CPU; a "
        "precision the device cannot use falls back (recorded in run.json / scores.json).")
    data: DatasetConfig = Field(default_factory=DatasetConfig, description="Corpus -> training examples.")
    training: TrainingConfig = Field(default_factory=TrainingConfig, description="Fine-tuning settings.")
    generation: GenerationConfig = Field(default_factory=GenerationConfig, description="Decoding settings.")
