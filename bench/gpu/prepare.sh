#!/usr/bin/env bash
# Prepares bench/gpu/run.sh for a machine without network: run this once where Deno and apt work. It
# fills bench/gpu/.cache/ (git-ignored; under 64 MiB together with the repository) with
#   deno.xz             the Deno binary of this machine, xz-compressed (about 91 MiB unpacked, 29 MiB packed);
#   *.deb               the Vulkan loader (libvulkan1, amd64), unpacked by run.sh when the GPU machine lacks it;
#   bench.js, report.js the benchmark scripts bundled with their npm dependencies (zod), so that the GPU
#                       machine resolves nothing.
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

for script in bench report; do
  (cd "$root" && deno bundle --quiet --platform deno -o "$cache/$script.js" "bench/gpu/$script.ts")
done
# run.sh refuses bundles whose local sources (listed here, repository-relative) have changed since.
(cd "$root" && for script in bench report; do deno info --json "bench/gpu/$script.ts"; done) |
  deno eval --quiet '
    const text = new TextDecoder().decode(await new Response(Deno.stdin.readable).arrayBuffer());
    const root = `file://${Deno.args[0]}/`;
    const files = new Set();
    for (const doc of text.split(/\n(?=\{)/)) {
      for (const m of JSON.parse(doc).modules) if (m.specifier?.startsWith(root)) files.add(m.specifier.slice(root.length));
    }
    console.log([...files].sort().join("\n"));' "$root" > "$cache/sources.list"
"$here/sources_hash.sh" > "$cache/sources.sha256"
du -sh "$cache"/* >&2
echo "ready: copy the repository with bench/gpu/.cache to the GPU machine and run bench/gpu/run.sh" >&2
