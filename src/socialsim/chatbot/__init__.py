"""Stage 6: training sets from a corpus, fine-tuning (transformers Trainer + PEFT LoRA on CUDA, MPS or the CPU),
evaluation with paired-bootstrap comparisons, chat, interactive evaluation."""
