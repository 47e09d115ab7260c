#!/usr/bin/env bash
# Provides FerretDB (a MongoDB wire-protocol server; v1 stores documents in SQLite) for the MongoDB
# output's tests: built from Go modules (github.com/FerretDB/FerretDB, no release download) into a cache
# keyed by version. Prints the binary's path. A cached build is reused as is, without Go.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
version="${FERRETDB_VERSION:-v1.24.2}"
module="github.com/FerretDB/FerretDB"
cache="${PETREL_CACHE_DIR:-$root/.cache}/ferretdb-$version"
bin="$cache/ferretdb"
tool=ferretdb
built() { [ -x "$bin" ]; }
result() { echo "$bin"; }
# shellcheck source=lib/go-build-cache.sh
. "$root/scripts/lib/go-build-cache.sh"
reuse_cached_build
lock_build "FerretDB $version"
start_build "building FerretDB $version from Go modules (one-time: about 1-3 minutes on 2 cores)"
export GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0
# `go install module@version` cannot be used: FerretDB embeds build/version/version.txt, which its
# release tooling generates and the module zip lacks (the binary panics without it). So the module's
# source is copied from the module cache, the file written, and the copy built as the main module.
src="$(go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
if [ -z "$src" ] || [ ! -d "$src" ]; then
  echo "ensure-ferretdb: could not download $module@$version" >&2
  exit 1
fi
cp -R "$src" "$work/src"
chmod -R u+w "$work/src"
echo "$version" > "$work/src/build/version/version.txt"
(cd "$work/src" && go build -trimpath -ldflags "-s -w" -o "$work/ferretdb" ./cmd/ferretdb) >&2
mkdir -p "$cache"
mv "$work/ferretdb" "$bin"
finish_build
