#!/usr/bin/env bash
# Prepares bench/gpu/run.sh for a machine without network: run this once where Deno and apt work. It
# fills bench/gpu/.cache/ (git-ignored; under 64 MiB together with the repository) with
#   deno.xz     the Deno binary of this machine, xz-compressed (about 91 MiB unpacked);
#   *.deb       the Vulkan loader (libvulkan1, amd64), unpacked by run.sh when the GPU machine lacks it;
#   deno_dir/   Deno's module cache for the benchmark scripts (zod from npm, compiled TypeScript).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache="$here/.cache"
mkdir -p "$cache"

deno_bin="$(readlink -f "$(command -v deno)")"
if [[ ! -f "$cache/deno.xz" || "$deno_bin" -nt "$cache/deno.xz" ]]; then
  echo "compressing $deno_bin ..." >&2
  nice xz -T1 -9 -c "$deno_bin" > "$cache/deno.xz.tmp"
  mv "$cache/deno.xz.tmp" "$cache/deno.xz"
fi

if ! ls "$cache"/libvulkan1_*.deb > /dev/null 2>&1; then
  lists="$(mktemp -d)"
  opts=(-o APT::Architecture=amd64 -o APT::Architectures=amd64 -o Dir::State::Lists="$lists")
  mkdir -p "$lists/partial"
  apt-get "${opts[@]}" update > /dev/null
  (cd "$cache" && apt-get "${opts[@]}" download libvulkan1)
  rm -rf "$lists"
fi

(cd "$root" && DENO_DIR="$cache/deno_dir" deno cache bench/gpu/bench.ts bench/gpu/report.ts)
du -sh "$cache"/* >&2
echo "ready: copy the repository with bench/gpu/.cache to the GPU machine and run bench/gpu/run.sh" >&2
