"""Audit log: a hash-chained, Merkle-checkpointed record of everything done to cases."""
