#!/usr/bin/env bash
# Regenerates the wrapper modules that scripts/ensure-kube-control-plane.sh builds from:
#   bash scripts/kube-control-plane/set-versions.sh v1.36.3 v3.6.17
# kubernetes/: k8s.io/kubernetes at the given release with kube-apiserver and kubectl as tools. That
#   module requires its staging modules (k8s.io/api, k8s.io/client-go, …) at v0.0.0 and replaces them
#   with local folders, which only works inside its own repository; here each one is replaced by its
#   published v0.<minor>.<patch>. The list is read from the release's own go.mod, not written by hand.
# etcd/: go.etcd.io/etcd/server/v3 (its root package is the etcd command), in a module of its own so
#   its version does not change the etcd client that kube-apiserver is built with.
# Needs Go and the module proxy. Commit the resulting go.mod and go.sum files.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
k8s="${1:?usage: set-versions.sh <k8s.io/kubernetes version, e.g. v1.36.3> <etcd version, e.g. v3.6.17>}"
etcd="${2:?usage: set-versions.sh <k8s version> <etcd version>}"
staging="v0.${k8s#v1.}"
export GOFLAGS=-mod=mod
gover="$(go env GOVERSION)"

new_module() { # dir module-path
  rm -f "$1/go.mod" "$1/go.sum"
  mkdir -p "$1"
  (cd "$1" && go mod init "$2" >/dev/null 2>&1)
}

# --- kubernetes ---
dir="$here/kubernetes"
new_module "$dir" petrel.local/kube-control-plane/kubernetes
gomod="$(cd "$dir" && go mod download -json "k8s.io/kubernetes@$k8s" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')"
mapfile -t modules < <(awk '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" { print $1 }' "$gomod" | sort -u)
[ ${#modules[@]} -gt 0 ] || { echo "set-versions: no staging modules found in $gomod" >&2; exit 1; }
{
  printf 'module petrel.local/kube-control-plane/kubernetes\n\ngo %s\n\nrequire k8s.io/kubernetes %s\n\n' \
    "$(awk '$1 == "go" { print $2 }' "$gomod")" "$k8s"
  printf '// Staging modules of k8s.io/kubernetes %s at their published versions.\nreplace (\n' "$k8s"
  for m in "${modules[@]}"; do printf '\t%s => %s %s\n' "$m" "$m" "$staging"; done
  printf ')\n'
} >"$dir/go.mod"
(
  cd "$dir"
  go get -tool "k8s.io/kubernetes/cmd/kube-apiserver@$k8s" "k8s.io/kubernetes/cmd/kubectl@$k8s"
  go mod tidy
)
echo "set-versions: kubernetes $k8s with ${#modules[@]} staging modules at $staging (Go $gover)" >&2

# --- etcd ---
dir="$here/etcd"
new_module "$dir" petrel.local/kube-control-plane/etcd
(
  cd "$dir"
  go get -tool "go.etcd.io/etcd/server/v3@$etcd"
  go mod edit -go="$(go list -m -json "go.etcd.io/etcd/server/v3@$etcd" | sed -n 's/^\t"GoVersion": "\(.*\)",\{0,1\}$/\1/p')"
  go mod tidy
)
echo "set-versions: etcd $etcd" >&2
