#!/usr/bin/env bash
# Provides a nats-server (JetStream) binary: built from Go modules into a cache keyed by version, or,
# without Go, Debian's package when it is recent enough. Prints the binary's path.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
version="${NATS_SERVER_VERSION:-v2.15.3}"
cache="${PETREL_CACHE_DIR:-$root/.cache}/nats-server-$version"
bin="$cache/nats-server"
tool=nats-server
built() { [ -x "$bin" ]; }
result() { echo "$bin"; }
# shellcheck source=lib/go-build-cache.sh
. "$root/scripts/lib/go-build-cache.sh"
reuse_cached_build
if command -v go >/dev/null 2>&1; then
  lock_build "nats-server $version"
  start_build "building nats-server $version from Go modules (one-time, a few minutes)"
  GOBIN="$work" GOFLAGS=-mod=mod CGO_ENABLED=0 go install "github.com/nats-io/nats-server/v2@$version" >&2
  mkdir -p "$cache"
  mv "$work/nats-server" "$bin"
  finish_build
  exit 0
fi
if command -v nats-server >/dev/null 2>&1; then
  have="$(nats-server --version | grep -m1 -oE '[0-9]+\.[0-9]+' | sed -n 1p)"
  if [ "$(printf '%s\n' "2.14" "$have" | sort -V | sed -n 1p)" = "2.14" ]; then
    command -v nats-server
    exit 0
  fi
fi
echo "ensure-nats-server: need Go (to build nats-server $version from Go modules) or nats-server >= 2.14 on PATH" >&2
exit 1
