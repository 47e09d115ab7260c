#!/usr/bin/env bash
# Provides helm for the chart tests: built from Go modules (helm.sh/helm/v4, no release download) into a
# cache keyed by version. Prints the binary's path. A cached build is reused as is, without Go.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
version="${HELM_VERSION:-v4.3.2}"
module="helm.sh/helm/${version%%.*}" # the module path carries the major version (helm.sh/helm/v4)
cache="${PETREL_CACHE_DIR:-$root/.cache}/helm-$version"
bin="$cache/helm"
tool=helm
built() { [ -x "$bin" ]; }
result() { echo "$bin"; }
# shellcheck source=lib/go-build-cache.sh
. "$root/scripts/lib/go-build-cache.sh"
reuse_cached_build
lock_build "helm $version"
start_build "building helm $version from Go modules (one-time: about 4 minutes on 2 cores with an empty Go build cache)"
# helm's Makefile stamps the version with these ldflags; without them `helm version` says only "v4.3".
# The Kubernetes version helm assumes offline (`helm template`, `helm lint`) comes from the client-go
# module version recorded in the binary's build info, which `go install` keeps.
GOBIN="$work" GOFLAGS="-mod=mod" CGO_ENABLED=0 go install -trimpath \
  -ldflags "-s -w -X $module/internal/version.version=$version -X $module/internal/version.gitTreeState=clean" \
  "$module/cmd/helm@$version" >&2
mkdir -p "$cache"
mv "$work/helm" "$bin"
finish_build
