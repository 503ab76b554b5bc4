// RMSNorm as Llama computes it: `out = (x · rstd) · weight`, `rstd = 1/sqrt(mean(x²) + eps)` per row,
// and its backward. One workgroup owns a row and reduces it in workgroup memory (a fixed tree, so the
// result does not depend on scheduling). The weight gradient sums over rows without atomics: per
// chunk of rows into a scratch `[chunks, C]`, then the chunks in order into `dweight`.

const WG: u32 = 256u;

var<workgroup> red: array<f32, WG>;

/// Sum of `v` over the workgroup, returned to every invocation.
fn workgroup_sum(v: f32, lid: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      red[lid] += red[lid + stride];
    }
    workgroupBarrier();
  }
  let total = red[0];
  workgroupBarrier();
  return total;
}

struct ForwardParams {
  o_out: u32,
  o_rstd: u32,
  o_x: u32,
  o_w: u32,
  rows: u32,
  c: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> fwd_p: ForwardParams;
@group(0) @binding(1) var<storage, read_write> fwd_out: array<f32>;
@group(0) @binding(2) var<storage, read_write> fwd_rstd: array<f32>;
@group(0) @binding(3) var<storage, read_write> fwd_x: array<f32>;
@group(0) @binding(4) var<storage, read_write> fwd_w: array<f32>;

@compute @workgroup_size(WG)
fn rmsnorm_forward(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= fwd_p.rows) {
    return;
  }
  let c = fwd_p.c;
  let xb = fwd_p.o_x + row * c;
  var ss = 0.0;
  for (var j = lid; j < c; j += WG) {
    let v = fwd_x[xb + j];
    ss += v * v;
  }
  let rstd = 1.0 / sqrt(workgroup_sum(ss, lid) / f32(c) + fwd_p.eps);
  let ob = fwd_p.o_out + row * c;
  for (var j = lid; j < c; j += WG) {
    fwd_out[ob + j] = (fwd_x[xb + j] * rstd) * fwd_w[fwd_p.o_w + j];
  }
  if (lid == 0u) {
    fwd_rstd[fwd_p.o_rstd + row] = rstd;
  }
}

struct BackwardParams {
  o_dx: u32,
  o_dout: u32,
  o_x: u32,
  o_w: u32,
  o_rstd: u32,
  rows: u32,
  c: u32,
}

@group(0) @binding(0) var<uniform> bwd_p: BackwardParams;
@group(0) @binding(1) var<storage, read_write> bwd_dx: array<f32>;
@group(0) @binding(2) var<storage, read_write> bwd_dout: array<f32>;
@group(0) @binding(3) var<storage, read_write> bwd_x: array<f32>;
@group(0) @binding(4) var<storage, read_write> bwd_w: array<f32>;
@group(0) @binding(5) var<storage, read_write> bwd_rstd: array<f32>;

/// `dx += dout·w·rstd − x·rstd³·Σ(dout·w·x)/C`, one row per workgroup.
@compute @workgroup_size(WG)
fn rmsnorm_backward_dx(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= bwd_p.rows) {
    return;
  }
  let c = bwd_p.c;
  let xb = bwd_p.o_x + row * c;
  let db = bwd_p.o_dout + row * c;
  var dot = 0.0;
  for (var j = lid; j < c; j += WG) {
    dot += bwd_dout[db + j] * bwd_w[bwd_p.o_w + j] * bwd_x[xb + j];
  }
  let rstd = bwd_rstd[bwd_p.o_rstd + row];
  let k = rstd * rstd * rstd * workgroup_sum(dot, lid) / f32(c);
  let gb = bwd_p.o_dx + row * c;
  for (var j = lid; j < c; j += WG) {
    bwd_dx[gb + j] += bwd_dout[db + j] * bwd_w[bwd_p.o_w + j] * rstd - bwd_x[xb + j] * k;
  }
}

struct PartialParams {
  o_partial: u32,
  o_dout: u32,
  o_x: u32,
  o_rstd: u32,
  rows: u32,
  c: u32,
  chunk_rows: u32,
  first_chunk: u32,
}

@group(0) @binding(0) var<uniform> part_p: PartialParams;
@group(0) @binding(1) var<storage, read_write> part_out: array<f32>;
@group(0) @binding(2) var<storage, read_write> part_dout: array<f32>;
@group(0) @binding(3) var<storage, read_write> part_x: array<f32>;
@group(0) @binding(4) var<storage, read_write> part_rstd: array<f32>;

/// `partial[chunk, j] = Σ_{rows of chunk} dout·x·rstd`; grid x over columns, y over chunks.
@compute @workgroup_size(WG)
fn rmsnorm_backward_dweight_partial(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let j = wid.x * WG + lid;
  let c = part_p.c;
  if (j >= c) {
    return;
  }
  let r0 = wid.y * part_p.chunk_rows;
  let r1 = min(r0 + part_p.chunk_rows, part_p.rows);
  var s = 0.0;
  for (var r = r0; r < r1; r++) {
    s += part_dout[part_p.o_dout + r * c + j] * part_x[part_p.o_x + r * c + j] * part_rstd[part_p.o_rstd + r];
  }
  part_out[part_p.o_partial + (part_p.first_chunk + wid.y) * c + j] = s;
}

struct SumParams {
  o_dw: u32,
  o_partial: u32,
  c: u32,
  chunks: u32,
}

@group(0) @binding(0) var<uniform> sum_p: SumParams;
@group(0) @binding(1) var<storage, read_write> sum_dw: array<f32>;
@group(0) @binding(2) var<storage, read_write> sum_partial: array<f32>;

/// `dweight[j] += Σ_chunks partial[chunk, j]`, chunks in order.
@compute @workgroup_size(WG)
fn rmsnorm_backward_dweight_sum(@builtin(global_invocation_id) gid: vec3u) {
  let j = gid.x;
  if (j >= sum_p.c) {
    return;
  }
  var s = 0.0;
  for (var k = 0u; k < sum_p.chunks; k++) {
    s += sum_partial[sum_p.o_partial + k * sum_p.c + j];
  }
  sum_dw[sum_p.o_dw + j] += s;
}
