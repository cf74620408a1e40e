"""Official documents (HTML and PDF) produced by a procedure's final ``deliver`` step."""
