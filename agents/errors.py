"""Errors an agent step reports back to the engine, each with a message a person can act on."""


class AgentError(Exception):
    """An agent step failed for a reason that retrying the same input will not fix."""


class ModelUnavailableError(AgentError):
    """The model file is missing, unlisted, or fails its sha256 check."""


class InvalidOutputError(AgentError):
    """The model's output does not satisfy the step's output schema."""


class PromptError(AgentError):
    """A prompt file is missing or malformed."""
