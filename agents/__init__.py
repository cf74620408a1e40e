"""What runs an agent step: model manifest, LLM runtime, prompts, step logic."""
