#!/usr/bin/env bash
# Prints one hash of the files listed in bench/gpu/.cache/sources.list (the local modules that
# prepare.sh bundled), so that run.sh can tell whether the bundles still match the sources.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
list=bench/gpu/.cache/sources.list
[[ -f "$list" ]] || { echo "none"; exit 0; }
xargs sha256sum < "$list" | sha256sum | cut -d' ' -f1
