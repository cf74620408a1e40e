"""Human approvals: a case waits in the database, with no process attached, for a decision."""
