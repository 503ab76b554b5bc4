// The global gradient norm and clipping: `sum_squares_partial` reduces fixed chunks of 4096 elements
// into one partial each, `sum_squares_final` adds all partials (in a fixed order) to `out[0]`,
// `clip_factor` turns the squared norm into torch's clip coefficient, and `scale_by` applies it.
// The coefficient stays on the device: nothing is read back between the steps.

const WG: u32 = 256u;
const PER_THREAD: u32 = 16u;

var<workgroup> red: array<f32, WG>;

fn workgroup_sum(v: f32, lid: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      red[lid] += red[lid + stride];
    }
    workgroupBarrier();
  }
  return red[0];
}

struct PartialParams {
  o_partials: u32,
  o_x: u32,
  n: u32,
  first: u32,
}

@group(0) @binding(0) var<uniform> part_p: PartialParams;
@group(0) @binding(1) var<storage, read_write> part_out: array<f32>;
@group(0) @binding(2) var<storage, read_write> part_x: array<f32>;

@compute @workgroup_size(WG)
fn sum_squares_partial(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let chunk = wid.y * nwg.x + wid.x;
  let start = chunk * WG * PER_THREAD;
  if (start >= part_p.n) {
    return;
  }
  var s = 0.0;
  for (var k = 0u; k < PER_THREAD; k++) {
    let i = start + k * WG + lid;
    if (i < part_p.n) {
      let v = part_x[part_p.o_x + i];
      s += v * v;
    }
  }
  let total = workgroup_sum(s, lid);
  if (lid == 0u) {
    part_out[part_p.o_partials + part_p.first + chunk] = total;
  }
}

struct FinalParams {
  o_out: u32,
  o_partials: u32,
  count: u32,
}

@group(0) @binding(0) var<uniform> fin_p: FinalParams;
@group(0) @binding(1) var<storage, read_write> fin_out: array<f32>;
@group(0) @binding(2) var<storage, read_write> fin_partials: array<f32>;

@compute @workgroup_size(WG)
fn sum_squares_final(@builtin(local_invocation_index) lid: u32) {
  var s = 0.0;
  for (var i = lid; i < fin_p.count; i += WG) {
    s += fin_partials[fin_p.o_partials + i];
  }
  let total = workgroup_sum(s, lid);
  if (lid == 0u) {
    fin_out[fin_p.o_out] += total;
  }
}

struct ScaleParams {
  o_x: u32,
  o_s: u32,
  n: u32,
}

@group(0) @binding(0) var<uniform> scale_p: ScaleParams;
@group(0) @binding(1) var<storage, read_write> scale_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> scale_s: array<f32>;

@compute @workgroup_size(WG)
fn scale_by(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid;
  if (i < scale_p.n) {
    scale_x[scale_p.o_x + i] *= scale_s[scale_p.o_s];
  }
}

struct ClipParams {
  o_s: u32,
  o_norm_sq: u32,
  max_norm: f32,
}

@group(0) @binding(0) var<uniform> clip_p: ClipParams;
@group(0) @binding(1) var<storage, read_write> clip_s: array<f32>;
@group(0) @binding(2) var<storage, read_write> clip_norm_sq: array<f32>;

/// `s = min(1, maxNorm / (sqrt(normSq) + 1e-6))`, as `torch.nn.utils.clip_grad_norm_`.
@compute @workgroup_size(1)
fn clip_factor() {
  clip_s[clip_p.o_s] = min(1.0, clip_p.max_norm / (sqrt(clip_norm_sq[clip_p.o_norm_sq]) + 1e-6));
}
