#!/usr/bin/env bash
# The GPU benchmark in one run, for a bare Linux machine with an NVIDIA GPU, its driver and PyTorch, no
# network, and a copy of this repository prepared by bench/gpu/prepare.sh (Deno, the Vulkan/GL loader
# libraries and the bundled scripts in bench/gpu/.cache). Within eight minutes (its stages' limits add
# to 480 s, under a ten-minute command limit) it prints: the adapter with all its limits and features,
# correctness checks of the kernels against the reference backend, then beside PyTorch at the same
# shapes: WGSL matmul TFLOP/s at 4096³ (cuBLAS fp32, TF32 off), fused attention forward and backward
# (efficient SDPA), and TinyLlama-1.1B training tokens/s (eager fp32) at the memory plan's micro-batch
# (ours also with --recompute), then the Markdown for bench/RESULTS.md.
#
# Every figure is written to the results folder as a JSON line as soon as it is measured
# (webgpu.jsonl, torch.jsonl), and the whole log is tee'd there (run.log), so a kill loses nothing
# that was measured.
#
# Usage: bench/gpu/run.sh [--smoke] [--out DIR] [--cache DIR]
#   --smoke  tiny shapes: checks the script end to end (on lavapipe too); its numbers mean nothing.
#   --out    the results folder (default: a fresh one under $TMPDIR; its path is printed first).
#   --cache  the prepared cache (default bench/gpu/.cache); without one, the Deno on PATH and the
#            sources are used (fine for --smoke here, not on a machine without network).
set -uo pipefail
smoke=()
out=""
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache="$here/.cache"
usage="usage: bench/gpu/run.sh [--smoke] [--out DIR] [--cache DIR]"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --smoke) smoke=(--smoke); shift ;;
    --out) [[ $# -ge 2 ]] || { echo "$usage" >&2; exit 2; }; out="$2"; shift 2 ;;
    --cache) [[ $# -ge 2 ]] || { echo "$usage" >&2; exit 2; }; cache="$2"; shift 2 ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
if [[ -z "$out" ]]; then
  out="$(mktemp -d "${TMPDIR:-/tmp}/tinyllama-gpu-results.XXXXXX")"
else
  mkdir -p "$out" || exit 2
  out="$(cd "$out" && pwd)"
fi
echo "results: $out" | tee "$out/run.log"
exec > >(tee -a "$out/run.log") 2>&1
work="$(mktemp -d "${TMPDIR:-/tmp}/tinyllama-gpu-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cd "$root"
python=${PYTHON:-python3}

# 1. The carried cache must be complete: every file of prepare.sh's manifest, with its hash.
if [[ -d "$cache" ]]; then
  manifest="$cache/MANIFEST.sha256"
  if [[ ! -f "$manifest" ]]; then
    echo "error: $cache has no MANIFEST.sha256: rerun bench/gpu/prepare.sh"
    exit 2
  fi
  while read -r hash name; do
    if [[ ! -f "$cache/$name" ]]; then
      echo "error: the prepared cache lacks $name: rerun bench/gpu/prepare.sh and carry bench/gpu/.cache whole"
      exit 2
    fi
    if [[ "$(sha256sum "$cache/$name" | cut -d' ' -f1)" != "$hash" ]]; then
      echo "error: $name in the prepared cache differs from prepare.sh's manifest: rerun bench/gpu/prepare.sh"
      exit 2
    fi
  done < "$manifest"
  echo "cache: all $(wc -l < "$manifest") files of the manifest present and unchanged"
else
  echo "cache: none at $cache (using the Deno on PATH and the sources; a machine without network needs bench/gpu/prepare.sh)"
fi

# 2. Deno: the prepared binary (unpacked by xz, else Python's lzma), else one on PATH.
if [[ -f "$cache/deno.xz" ]]; then
  if command -v xz > /dev/null; then
    xz -dc "$cache/deno.xz" > "$work/deno"
  else
    "$python" -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' \
      "$cache/deno.xz" "$work/deno"
  fi || { echo "error: cannot unpack $cache/deno.xz (neither xz nor $python with lzma worked)"; exit 1; }
  chmod +x "$work/deno"
  deno="$work/deno"
  # Its module cache in the work folder: the carried Deno must not depend on a writable home.
  export DENO_DIR="${DENO_DIR:-$work/deno-dir}"
elif command -v deno > /dev/null; then
  deno="$(command -v deno)"
else
  echo "error: no Deno: run bench/gpu/prepare.sh where Deno is installed, then carry bench/gpu/.cache along"
  exit 1
fi
# The scripts: prepared bundles (nothing to resolve), else the sources (needs Deno's cache or network).
bench=(bench/gpu/bench.ts)
report=(bench/gpu/report.ts)
if [[ -f "$cache/bench.js" && -f "$cache/report.js" ]]; then
  if [[ "$("$here/sources_hash.sh" "$cache")" != "$(cat "$cache/sources.sha256" 2> /dev/null)" ]]; then
    echo "error: $cache holds bundles of other sources: rerun bench/gpu/prepare.sh"
    exit 1
  fi
  bench=(--no-config "$cache/bench.js")
  report=(--no-config "$cache/report.js")
fi

# 3. Vulkan: the carried loader and GL/EGL dispatch libraries (NVIDIA's ICD, libGLX_nvidia.so.0, needs
# libGLdispatch.so.0 of libglvnd0), unpacked and put first on the library path even when the system
# has a loader, since a system loader without libglvnd cannot open the ICD.
for deb in "$cache"/*.deb; do
  [[ -f "$deb" ]] || continue
  if command -v dpkg-deb > /dev/null; then
    dpkg-deb -x "$deb" "$work/vulkan"
  else # ar + tar: a .deb is an ar archive holding data.tar.*
    (mkdir -p "$work/deb" && cd "$work/deb" && ar x "$deb" && mkdir -p "$work/vulkan" &&
      tar -xf data.tar.* -C "$work/vulkan" && rm -f ./*.tar.* debian-binary)
  fi
done
if [[ -d "$work/vulkan" ]]; then
  export LD_LIBRARY_PATH="$work/vulkan/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  echo "vulkan: carried libraries on LD_LIBRARY_PATH: $(cd "$work/vulkan/usr/lib/x86_64-linux-gnu" && ls ./*.so.* | tr '\n' ' ')"
fi
# The driver manifest: the system's, else NVIDIA's container location, else one written for its library.
if [[ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ]] &&
  ! ls /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json > /dev/null 2>&1; then
  icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  if [[ ! -f "$icd" ]] && command -v nvidia-smi > /dev/null; then
    icd="$work/nvidia_icd.json"
    echo '{"file_format_version":"1.0.0","ICD":{"library_path":"libGLX_nvidia.so.0","api_version":"1.3"}}' > "$icd"
  fi
  if [[ -f "$icd" ]]; then
    export VK_DRIVER_FILES="$icd" VK_ICD_FILENAMES="$icd"
    echo "vulkan: no driver manifest in /usr/share or /etc: VK_DRIVER_FILES=$icd"
  fi
  egl=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  if [[ -z "${__EGL_VENDOR_LIBRARY_FILENAMES:-}" && -f "$egl" ]]; then
    export __EGL_VENDOR_LIBRARY_FILENAMES="$egl"
    echo "vulkan: __EGL_VENDOR_LIBRARY_FILENAMES=$egl"
  fi
fi
# On the NVIDIA machine, Vulkan only: a silent fall back to OpenGL would time the wrong thing.
if command -v nvidia-smi > /dev/null && [[ -z "${DENO_WEBGPU_BACKEND:-}" ]]; then
  export DENO_WEBGPU_BACKEND=vulkan
fi
mkdir -m 700 -p "$work/xdg"
export XDG_RUNTIME_DIR="$work/xdg"

command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true

# 4. The adapter (20 s): its name, limits and features; without one, the loader's own errors.
status=0
echo "== adapter =="
if timeout -k 10 20 "$deno" run --no-config bench/gpu/adapter.ts > "$out/adapter.json"; then
  cat "$out/adapter.json"
  adapter=1
else
  adapter=0
  cat "$out/adapter.json"
  echo "no WebGPU adapter: the Vulkan loader says (VK_LOADER_DEBUG=error,warn):"
  VK_LOADER_DEBUG=error,warn timeout -k 10 20 "$deno" run --no-config bench/gpu/adapter.ts \
    > /dev/null 2> "$out/vulkan-loader.log" || true
  tail -n 60 "$out/vulkan-loader.log"
  status=1
fi

# 5. WebGPU (290 s): checks, then timings; one JSON line per figure.
echo "== WebGPU (WGSL) =="
if [[ "$adapter" == 1 ]]; then
  timeout -k 10 290 "$deno" run --allow-read --allow-env "${bench[@]}" "${smoke[@]}" > "$out/webgpu.jsonl"
  rc=$?
  [[ "$rc" == 0 ]] || { echo "WebGPU benchmark: exit $rc$([[ $rc == 124 || $rc == 137 ]] && echo ' (time limit)')"; status=1; }
  grep -q '"ok":false' "$out/webgpu.jsonl" && { echo "WebGPU: a correctness check FAILED (see checks in webgpu.jsonl)"; status=1; }
else
  echo "{\"backend\":\"webgpu\",\"error\":\"no WebGPU adapter\",\"smoke\":$([[ ${#smoke[@]} -gt 0 ]] && echo true || echo false)}" \
    > "$out/webgpu.jsonl"
fi
# PyTorch runs at the micro-batch of our step without recomputation.
micro=$(grep -o '^{"train":{[^}]*"micro_batch":[0-9]*' "$out/webgpu.jsonl" | head -1 | grep -o '[0-9]*$' || true)

# 6. PyTorch (150 s), at the same shapes and micro-batch.
echo "== PyTorch =="
timeout -k 10 150 "$python" -u bench/gpu/torch_baseline.py "${smoke[@]}" --micro-batch "${micro:-8}" \
  > "$out/torch.jsonl"
rc=$?
[[ "$rc" == 0 ]] || echo "{\"backend\": \"torch\", \"error\": \"exit $rc\"}" >> "$out/torch.jsonl"

# 7. The Markdown section (20 s).
echo "== Result =="
timeout -k 10 20 "$deno" run --allow-read "${report[@]}" "$out/webgpu.jsonl" "$out/torch.jsonl" \
  > "$out/RESULTS-section.md" || status=1
cat "$out/RESULTS-section.md"
echo "results: $out"
exit "$status"
