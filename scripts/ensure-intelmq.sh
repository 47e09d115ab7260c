#!/usr/bin/env bash
# Installs IntelMQ (the compatibility oracle, AGPL, used only by tests and benchmarks) into a
# virtualenv under .cache/, keyed by version, from the pinned requirements beside this script.
# Prints the venv's python path. Idempotent and fast when the venv is complete.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
version="$(grep -E '^intelmq==' "$root/scripts/oracle/requirements.txt" | cut -d= -f3)"
cache="${PETREL_CACHE_DIR:-$root/.cache}"
venv="$cache/intelmq-$version"
req="$root/scripts/oracle/requirements.txt"
stamp="$venv/.petrel-installed"
if [ -f "$stamp" ] && cmp -s "$stamp" "$req"; then
  echo "$venv/bin/python"
  exit 0
fi
python="${PYTHON:-$(command -v python3 || true)}"
if [ -z "$python" ]; then
  echo "ensure-intelmq: python3 is required for the IntelMQ oracle tests (apt-get install python3 python3-venv)" >&2
  exit 1
fi
echo "ensure-intelmq: installing intelmq $version into $venv (one-time)" >&2
rm -rf "$venv"
"$python" -m venv "$venv" >&2
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" setuptools >&2
cp "$req" "$stamp"
echo "$venv/bin/python"
