"""Key and secret files: created readable by their owner only, whole or not at all."""

from __future__ import annotations

import os
import threading
from pathlib import Path


def write_new(path: Path, text: str) -> bool:
    """Create ``path`` (mode 0600) holding ``text``; False, leaving it as it is, when it exists
    already (another process made it first): a key is never replaced by accident."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    try:
        os.link(tmp, path)  # atomic, and refuses to replace an existing file
    except FileExistsError:
        return False
    finally:
        tmp.unlink()
    return True
