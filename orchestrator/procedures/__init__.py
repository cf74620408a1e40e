"""Procedures: versioned definitions of the steps a case goes through."""
