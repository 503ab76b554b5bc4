// SwiGLU: `out = silu(gate) · up` and its backward, elementwise. The sigmoid is evaluated on the side
// where `exp` cannot overflow, so very negative gates give an exact 0 instead of 0·inf.

fn sigmoid(x: f32) -> f32 {
  if (x >= 0.0) {
    return 1.0 / (1.0 + exp(-x));
  }
  let e = exp(x);
  return e / (1.0 + e);
}

struct ForwardParams {
  o_out: u32,
  o_gate: u32,
  o_up: u32,
  n: u32,
}

@group(0) @binding(0) var<uniform> fwd_p: ForwardParams;
@group(0) @binding(1) var<storage, read_write> fwd_out: array<f32>;
@group(0) @binding(2) var<storage, read_write> fwd_gate: array<f32>;
@group(0) @binding(3) var<storage, read_write> fwd_up: array<f32>;

@compute @workgroup_size(256)
fn swiglu_forward(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i < fwd_p.n) {
    let g = fwd_gate[fwd_p.o_gate + i];
    fwd_out[fwd_p.o_out + i] = g * sigmoid(g) * fwd_up[fwd_p.o_up + i];
  }
}

struct BackwardParams {
  o_dgate: u32,
  o_dup: u32,
  o_dout: u32,
  o_gate: u32,
  o_up: u32,
  n: u32,
}

@group(0) @binding(0) var<uniform> bwd_p: BackwardParams;
@group(0) @binding(1) var<storage, read_write> bwd_dgate: array<f32>;
@group(0) @binding(2) var<storage, read_write> bwd_dup: array<f32>;
@group(0) @binding(3) var<storage, read_write> bwd_dout: array<f32>;
@group(0) @binding(4) var<storage, read_write> bwd_gate: array<f32>;
@group(0) @binding(5) var<storage, read_write> bwd_up: array<f32>;

@compute @workgroup_size(256)
fn swiglu_backward(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (i < bwd_p.n) {
    let g = bwd_gate[bwd_p.o_gate + i];
    let u = bwd_up[bwd_p.o_up + i];
    let d = bwd_dout[bwd_p.o_dout + i];
    let s = sigmoid(g);
    // d silu(g)/dg = σ(g)·(1 + g·(1 − σ(g))).
    bwd_dgate[bwd_p.o_dgate + i] += d * u * s * (1.0 + g * (1.0 - s));
    bwd_dup[bwd_p.o_dup + i] += d * g * s;
  }
}
