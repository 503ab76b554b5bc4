#!/usr/bin/env bash
# Prints one hash of the files listed in bench/gpu/.cache/sources.list (the local modules that
# prepare.sh bundled), so that run.sh can tell whether the bundles still match the sources.
# Usage: bench/gpu/sources_hash.sh [CACHE_DIR]   (default bench/gpu/.cache)
set -euo pipefail
list="$(cd "${1:-$(dirname "${BASH_SOURCE[0]}")/.cache}" 2> /dev/null && pwd || echo /nonexistent)/sources.list"
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
[[ -f "$list" ]] || { echo "none"; exit 0; }
xargs sha256sum < "$list" | sha256sum | cut -d' ' -f1
