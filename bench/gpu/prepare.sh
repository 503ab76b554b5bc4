#!/usr/bin/env bash
# NEEDS THE NETWORK: apt (the Debian packages below) and `deno bundle` (which fetches esbuild and the
# npm dependencies). Run it once here, where Deno and apt work, never on the GPU machine.
#
# Prepares bench/gpu/run.sh for a machine without network. It fills bench/gpu/.cache/ (git-ignored;
# under 64 MiB, carried to the GPU machine with the repository) with
#   deno.xz             the Deno binary of this machine, xz-compressed (about 91 MiB unpacked, 29 MiB packed);
#   *.deb               the Vulkan loader and the GL/EGL dispatch libraries NVIDIA's Vulkan driver needs
#                       (amd64: libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2), unpacked
#                       by run.sh and put first on its library path;
#   bench.js, report.js the benchmark scripts bundled with their npm dependencies (zod), so that the GPU
#                       machine resolves nothing;
#   sources.list, sources.sha256  the bundled local sources and their hash (run.sh refuses stale bundles);
#   MANIFEST.sha256     every file above with its hash: run.sh (and `run.sh --smoke` here) checks it first.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache="$here/.cache"
mkdir -p "$cache"
echo "prepare.sh needs the network (apt-get download, deno bundle fetching esbuild): run it here, not on the GPU machine" >&2

deno_bin="$(readlink -f "$(command -v deno)")"
if [[ ! -f "$cache/deno.xz" || "$deno_bin" -nt "$cache/deno.xz" ]]; then
  echo "compressing $deno_bin ..." >&2
  nice xz -T1 -9 -c "$deno_bin" > "$cache/deno.xz.tmp"
  mv "$cache/deno.xz.tmp" "$cache/deno.xz"
fi

packages=(libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
missing=()
for p in "${packages[@]}"; do
  ls "$cache/${p}"_*.deb > /dev/null 2>&1 || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  # A private lists directory: the amd64 package index without touching the system's apt state.
  lists="$(mktemp -d)"
  opts=(-o APT::Architecture=amd64 -o APT::Architectures=amd64 -o Dir::State::Lists="$lists")
  mkdir -p "$lists/partial"
  echo "apt-get download ${missing[*]} ..." >&2
  apt-get "${opts[@]}" update > /dev/null
  (cd "$cache" && apt-get "${opts[@]}" download "${missing[@]}")
  rm -rf "$lists"
fi

echo "deno bundle (fetches esbuild) ..." >&2
for script in bench report; do
  (cd "$root" && deno bundle --quiet --platform deno -o "$cache/$script.js" "bench/gpu/$script.ts")
done
# run.sh refuses bundles whose local sources (listed here, repository-relative) have changed since.
(cd "$root" && for script in bench report; do deno info --json "bench/gpu/$script.ts"; done) |
  deno eval --quiet '
    const text = new TextDecoder().decode(await new Response(Deno.stdin.readable).arrayBuffer());
    const root = `file://${Deno.args[0]}/`;
    const files = new Set(["bench/gpu/adapter.ts"]);
    for (const doc of text.split(/\n(?=\{)/)) {
      for (const m of JSON.parse(doc).modules) if (m.specifier?.startsWith(root)) files.add(m.specifier.slice(root.length));
    }
    console.log([...files].sort().join("\n"));' "$root" > "$cache/sources.list"
"$here/sources_hash.sh" "$cache" > "$cache/sources.sha256"
# The manifest of everything run.sh needs from here (not of itself).
(cd "$cache" && sha256sum deno.xz ./*.deb bench.js report.js sources.list sources.sha256 |
  sed 's| \./| |' > MANIFEST.sha256.tmp && mv MANIFEST.sha256.tmp MANIFEST.sha256)
du -sh "$cache"/* >&2
echo "total: $(du -sh "$cache" | cut -f1) (must stay under 64 MiB)" >&2
echo "ready: check it with bench/gpu/run.sh --smoke here, then carry bench/gpu/.cache to the GPU machine and run bench/gpu/run.sh" >&2
