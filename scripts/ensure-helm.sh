#!/usr/bin/env bash
# Provides helm for the chart tests: built from Go modules (helm.sh/helm/v4, no release download) into a
# cache keyed by version. Prints the binary's path. A cached build is reused as is, without Go.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
version="${HELM_VERSION:-v4.3.2}"
module="helm.sh/helm/${version%%.*}" # the module path carries the major version (helm.sh/helm/v4)
cache="${PETREL_CACHE_DIR:-$root/.cache}/helm-$version"
bin="$cache/helm"
if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "ensure-helm: need Go >= 1.26 to build helm $version from Go modules" >&2
  exit 1
fi
mkdir -p "$(dirname "$cache")"
# One build at a time: a second caller waits, then finds the binary.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$cache.lock"
  flock 9
  if [ -x "$bin" ]; then
    echo "$bin"
    exit 0
  fi
fi
started=$(date +%s)
echo "ensure-helm: building helm $version from Go modules (one-time: about 4 minutes on 2 cores with an empty Go build cache)" >&2
work="$(mktemp -d "$cache.build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
# helm's Makefile stamps the version with these ldflags; without them `helm version` says only "v4.3".
# The Kubernetes version helm assumes offline (`helm template`, `helm lint`) comes from the client-go
# module version recorded in the binary's build info, which `go install` keeps.
GOBIN="$work" GOFLAGS="-mod=mod" CGO_ENABLED=0 go install -trimpath \
  -ldflags "-s -w -X $module/internal/version.version=$version -X $module/internal/version.gitTreeState=clean" \
  "$module/cmd/helm@$version" >&2
mkdir -p "$cache"
mv "$work/helm" "$bin"
echo "ensure-helm: built in $(($(date +%s) - started)) s into $cache" >&2
echo "$bin"
