"""What runs an agent step: model manifest, LLM runtime, prompts, step logic; and, at the bottom
of the packages, what the engine and the nodes share (``contract``, ``signed_note``,
``private_files``). Imports nothing of ``orchestrator`` or ``workers`` (docs/architecture.md)."""
