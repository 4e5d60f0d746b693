"""LoRA supervised fine-tuning with TRL: recipes, callbacks, per-checkpoint Hub push."""
