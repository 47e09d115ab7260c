#!/usr/bin/env bash
# Provides a real Kubernetes control plane for tests: kube-apiserver, kubectl and etcd, built from Go
# modules (no release downloads) into a cache keyed by their versions. Prints the binaries' directory.
# The versions are those of the wrapper modules in scripts/kube-control-plane/ (change them with its
# set-versions.sh). A cached build is reused as is, so this is fast and needs no Go once built.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
wrappers="$root/scripts/kube-control-plane"

# "module version" of a requirement in a go.mod, whether on a require line or inside a block.
required() { awk -v m="$2" '($1 == m && $2 ~ /^v/) { print $2; exit } ($1 == "require" && $2 == m) { print $3; exit }' "$1"; }
k8s="$(required "$wrappers/kubernetes/go.mod" k8s.io/kubernetes)"
etcd="$(required "$wrappers/etcd/go.mod" go.etcd.io/etcd/server/v3)"
if [ -z "$k8s" ] || [ -z "$etcd" ]; then
  echo "ensure-kube-control-plane: cannot read the versions from $wrappers/*/go.mod" >&2
  exit 1
fi
cache="${PETREL_CACHE_DIR:-$root/.cache}/kube-$k8s-etcd-$etcd"
binaries=(kube-apiserver kubectl etcd)

tool=kube-control-plane
built() {
  local b
  for b in "${binaries[@]}"; do [ -x "$cache/$b" ] || return 1; done
}
result() { echo "$cache"; }
# shellcheck source=lib/go-build-cache.sh
. "$root/scripts/lib/go-build-cache.sh"
reuse_cached_build
lock_build "kube-apiserver $k8s and etcd $etcd"
start_build "building kube-apiserver and kubectl $k8s, etcd $etcd from Go modules (one-time: about 6 minutes on 2 cores with an empty Go build cache, plus module downloads)"
export GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0

minor="${k8s#v1.}"
minor="${minor%%.*}"
kube_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  kube_ldflags+=" -X $pkg.gitVersion=$k8s -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  kube_ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.gitCommit= -X $pkg.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
done
(cd "$wrappers/kubernetes" &&
  go build -trimpath -ldflags "$kube_ldflags" -o "$work/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl) >&2
(cd "$wrappers/etcd" &&
  go build -trimpath -ldflags "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=$etcd" \
    -o "$work/etcd" go.etcd.io/etcd/server/v3) >&2

mkdir -p "$cache"
for b in "${binaries[@]}"; do mv "$work/$b" "$cache/$b"; done
finish_build
