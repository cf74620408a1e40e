"""The node registry: nodes register with a join token, heartbeat, and are cordoned or drained
by ops; the engine dispatches a step only when a ready, schedulable node serves its model."""
