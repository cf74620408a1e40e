"""``idara eval``: the agents' quality measured on labelled datasets (docs/evaluation.md)."""
