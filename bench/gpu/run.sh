#!/usr/bin/env bash
# The GPU benchmark in one run, for a bare Linux machine with an NVIDIA GPU, its driver and PyTorch, no
# network, and a copy of this repository prepared by bench/gpu/prepare.sh (Deno, the Vulkan loader and
# the bundled scripts in bench/gpu/.cache). Within ten minutes it prints, beside PyTorch at the same
# shapes: WGSL matmul TFLOP/s at 4096³ (cuBLAS fp32, TF32 off), fused attention forward and backward
# (SDPA), and TinyLlama-1.1B training tokens/s (eager fp32) at the memory plan's micro-batch for 80 GB,
# ours also with --recompute at its plan's micro-batch, then the Markdown for bench/RESULTS.md.
#
# Usage: bench/gpu/run.sh [--smoke] [--out DIR]
#   --smoke  tiny shapes: checks the script end to end (on lavapipe too); its numbers mean nothing.
#   --out    also copies the JSON results, logs and the Markdown section into DIR.
set -euo pipefail
smoke=()
out=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --smoke) smoke=(--smoke); shift ;;
    --out) out="$2"; shift 2 ;;
    *) echo "usage: bench/gpu/run.sh [--smoke] [--out DIR]" >&2; exit 2 ;;
  esac
done
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache="$here/.cache"
work="$(mktemp -d "${TMPDIR:-/tmp}/tinyllama-gpu-bench.XXXXXX")"
cd "$root"

# Deno: the prepared binary, else one on PATH.
if [[ -f "$cache/deno.xz" ]]; then
  xz -dc "$cache/deno.xz" > "$work/deno"
  chmod +x "$work/deno"
  deno="$work/deno"
elif command -v deno > /dev/null; then
  deno="$(command -v deno)"
else
  echo "no Deno: run bench/gpu/prepare.sh where Deno is installed, then copy bench/gpu/.cache along" >&2
  exit 1
fi
# The scripts: prepared bundles (nothing to resolve), else the sources (needs Deno's cache or network).
bench=(bench/gpu/bench.ts)
report=(bench/gpu/report.ts)
if [[ -f "$cache/bench.js" && -f "$cache/report.js" ]]; then
  if [[ "$("$here/sources_hash.sh")" != "$(cat "$cache/sources.sha256" 2> /dev/null)" ]]; then
    echo "bench/gpu/.cache holds bundles of other sources: rerun bench/gpu/prepare.sh" >&2
    exit 1
  fi
  bench=(--no-config "$cache/bench.js")
  report=(--no-config "$cache/report.js")
fi

# The Vulkan loader: the system's, else the prepared Debian package unpacked here.
if ! ldconfig -p 2> /dev/null | grep -q 'libvulkan\.so\.1'; then
  for deb in "$cache"/*.deb; do
    [[ -f "$deb" ]] && dpkg-deb -x "$deb" "$work/vulkan"
  done
  export LD_LIBRARY_PATH="$work/vulkan/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi

# The NVIDIA Vulkan driver manifest: a known location, else one written for the driver's library.
if [[ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ]] && command -v nvidia-smi > /dev/null; then
  icd=""
  for f in /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json \
    /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.x86_64.json; do
    if [[ -f "$f" ]]; then icd="$f"; break; fi
  done
  if [[ -z "$icd" ]]; then
    icd="$work/nvidia_icd.json"
    echo '{"file_format_version":"1.0.0","ICD":{"library_path":"libGLX_nvidia.so.0","api_version":"1.3"}}' > "$icd"
  fi
  export VK_DRIVER_FILES="$icd" VK_ICD_FILENAMES="$icd"
fi
mkdir -m 700 -p "$work/xdg"
export XDG_RUNTIME_DIR="$work/xdg"

command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >&2 || true

echo "== WebGPU (WGSL) ==" >&2
status=0
timeout 420 "$deno" run --allow-read --allow-env "${bench[@]}" "${smoke[@]}" > "$work/webgpu.json" || status=$?
# PyTorch (eager, no recomputation) at the micro-batch of our step without recomputation.
micro=$(grep -o '"micro_batch":[0-9]*' "$work/webgpu.json" | head -1 | cut -d: -f2 || true)

echo "== PyTorch ==" >&2
python=${PYTHON:-python3}
timeout 240 "$python" bench/gpu/torch_baseline.py "${smoke[@]}" --micro-batch "${micro:-8}" \
  > "$work/torch.json" || echo "{\"backend\": \"torch\", \"error\": \"exit $?\"}" >> "$work/torch.json"

echo "== Result ==" >&2
"$deno" run --allow-read "${report[@]}" "$work/webgpu.json" "$work/torch.json" > "$work/RESULTS-section.md" \
  || status=$?
cat "$work/RESULTS-section.md"
if [[ -n "$out" ]]; then
  mkdir -p "$out"
  cp "$work/webgpu.json" "$work/torch.json" "$work/RESULTS-section.md" "$out/" || true
fi
rm -rf "$work/deno" "$work/vulkan"
exit "$status"
