"""What a node says of itself when it registers: CPU cores, memory, NVIDIA GPUs, the
llama.cpp backend it was built with, and idara's version."""

from __future__ import annotations

import os
import shutil
import subprocess
from importlib import metadata
from typing import Any


def node_facts() -> dict[str, Any]:
    return {
        "cpu_cores": os.cpu_count() or 1,
        "ram_bytes": _ram_bytes(),
        "gpus": nvidia_gpus(),
        "llama_cpp": llama_backend(),
        "idara": _version("idara"),
    }


def _ram_bytes() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 0


def nvidia_gpus() -> list[dict[str, Any]]:
    """Each NVIDIA GPU's name and memory, from ``nvidia-smi`` when the driver is there."""
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in out.strip().splitlines():
        name, _, memory = line.rpartition(",")
        if name:
            gpus.append({"name": name.strip(), "memory_mib": int(float(memory.strip() or 0))})
    return gpus


def llama_backend() -> dict[str, Any]:
    """llama-cpp-python's version and whether this build can offload to a GPU."""
    try:
        import llama_cpp

        gpu = bool(llama_cpp.llama_supports_gpu_offload())
    except Exception:  # a broken build: the node still registers, and says so
        return {"version": _version("llama_cpp_python"), "gpu_offload": False}
    return {"version": _version("llama_cpp_python"), "gpu_offload": gpu}


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"
