// Fused softmax cross-entropy over `logits[N, V]`: one workgroup per row finds the maximum and the
// sum of exponentials (fixed reduction trees), writes the row's loss and, when asked, overwrites the
// row with the loss gradient `scale · (softmax − onehot)`. A negative target is ignored (loss 0,
// gradient 0); targets ≥ V were rejected on the host.

const WG: u32 = 256u;

var<workgroup> red: array<f32, WG>;
var<workgroup> target_logit: f32;

struct Params {
  o_losses: u32,
  o_logits: u32,
  o_targets: u32,
  rows: u32,
  v: u32,
  write_grad: u32,
  grad_scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> losses: array<f32>;
@group(0) @binding(2) var<storage, read_write> logits: array<f32>;
@group(0) @binding(3) var<storage, read_write> targets: array<i32>;

@compute @workgroup_size(WG)
fn cross_entropy(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= p.rows) {
    return;
  }
  let v = p.v;
  let base = p.o_logits + row * v;
  let target_id = targets[p.o_targets + row];

  var mx = -3.0e38;
  for (var j = lid; j < v; j += WG) {
    mx = max(mx, logits[base + j]);
  }
  red[lid] = mx;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      red[lid] = max(red[lid], red[lid + stride]);
    }
    workgroupBarrier();
  }
  mx = red[0];
  workgroupBarrier();

  var sum = 0.0;
  for (var j = lid; j < v; j += WG) {
    sum += exp(logits[base + j] - mx);
  }
  red[lid] = sum;
  if (lid == 0u && target_id >= 0) {
    target_logit = logits[base + u32(target_id)];
  }
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      red[lid] += red[lid + stride];
    }
    workgroupBarrier();
  }
  let lse = mx + log(red[0]);
  // Every invocation has read its logits (the loops above) and the target's logit is in workgroup
  // memory before any of them is overwritten below.
  workgroupBarrier();

  if (lid == 0u) {
    losses[p.o_losses + row] = select(0.0, lse - target_logit, target_id >= 0);
  }
  if (p.write_grad != 0u) {
    for (var j = lid; j < v; j += WG) {
      var g = 0.0;
      if (target_id >= 0) {
        g = p.grad_scale * (exp(logits[base + j] - lse) - select(0.0, 1.0, j == u32(target_id)));
      }
      logits[base + j] = g;
    }
  }
}
