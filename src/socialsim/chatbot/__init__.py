"""Stage 6: training sets from a corpus, fine-tuning (TRL SFT + PEFT LoRA), evaluation, chat, interactive eval."""
