# Sourced by the ensure-*.sh scripts that build test tools from Go modules into a cache directory keyed
# by version. The caller sets:
#   tool      name for messages (ensure-<tool>)
#   cache     the directory the binaries end up in
#   built()   succeeds when every binary is in $cache
#   result()  prints what the script prints on success (a binary's path, or $cache)
# Then: `reuse_cached_build` (exits with the result when already built), `lock_build "<what needs Go>"`
# (fails without Go; one build at a time, a second caller waits and then reuses the first one's), and
# `start_build "<message>"` (sets $work, a scratch directory removed on exit, and $started).

reuse_cached_build() {
  if built; then
    result
    exit 0
  fi
}

lock_build() {
  if ! command -v go >/dev/null 2>&1; then
    echo "ensure-$tool: need Go >= 1.26 to build $1 from Go modules" >&2
    exit 1
  fi
  mkdir -p "$(dirname "$cache")"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$cache.lock"
    flock 9
    reuse_cached_build
  fi
}

start_build() {
  started=$(date +%s)
  echo "ensure-$tool: $1" >&2
  work="$(mktemp -d "$cache.build.XXXXXX")"
  # Module cache copies are read-only: make them writable so they can be removed.
  trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
}

finish_build() {
  echo "ensure-$tool: built in $(($(date +%s) - started)) s into $cache" >&2
  result
}
