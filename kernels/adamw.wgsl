// AdamW as `torch.optim.AdamW` (non-fused, amsgrad off), with the same f32 constants and operation
// order as the WASM core: `p *= 1 − lr·wd`; `m = β1·m + (1−β1)·g`; `v = β2·v + (1−β2)·g²`;
// `p −= (lr/(1−β1^t)) · m / (sqrt(v)/sqrt(1−β2^t) + eps)`. The bias corrections are computed on the
// host in f64.

struct Params {
  o_p: u32,
  o_g: u32,
  o_m: u32,
  o_v: u32,
  n: u32,
  decay: f32,
  beta1: f32,
  beta2: f32,
  one_minus_beta1: f32,
  one_minus_beta2: f32,
  step_size: f32,
  bc2_sqrt: f32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read_write> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> m1: array<f32>;
@group(0) @binding(4) var<storage, read_write> m2: array<f32>;

@compute @workgroup_size(256)
fn adamw(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i >= p.n) {
    return;
  }
  let g = grad[p.o_g + i];
  let m = p.beta1 * m1[p.o_m + i] + p.one_minus_beta1 * g;
  let v = p.beta2 * m2[p.o_v + i] + p.one_minus_beta2 * g * g;
  m1[p.o_m + i] = m;
  m2[p.o_v + i] = v;
  let denom = sqrt(v) / p.bc2_sqrt + p.eps;
  param[p.o_p + i] = param[p.o_p + i] * p.decay - p.step_size * m / denom;
}
