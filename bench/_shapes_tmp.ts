import { WasmBackend } from "../packages/model/wasm_backend.ts";
const threads = Number(Deno.args[0] ?? 2);
const be = await WasmBackend.create({ threads });
function best(fn: () => void, reps = 7) { fn(); let b = Infinity; for (let i = 0; i < reps; i++) { const t0 = performance.now(); fn(); b = Math.min(b, performance.now() - t0); } return b; }
const N = 2048;
const rows: string[] = [];
for (const [K, M] of [[256, 256], [256, 64], [256, 688], [688, 256], [256, 4096]]) {
  const x = be.alloc(N * K), w = be.alloc(M * K), out = be.alloc(N * M), dx = be.alloc(N * K), dw = be.alloc(M * K);
  be.write(x, new Float32Array(N * K).fill(0.5)); be.write(w, new Float32Array(M * K).fill(0.25));
  const fl = 2 * N * K * M / 1e9;
  const f = best(() => be.matmulForward(out, x, w, N, K, M));
  const a = best(() => be.matmulBackward(dx, null, out, x, w, N, K, M));
  const b = best(() => be.matmulBackward(null, dw, out, x, w, N, K, M));
  rows.push(`K=${K} M=${M}: fwd ${(fl / f * 1e3).toFixed(1)} dx ${(fl / a * 1e3).toFixed(1)} dw ${(fl / b * 1e3).toFixed(1)} GFLOP/s  (ms ${f.toFixed(2)} ${a.toFixed(2)} ${b.toFixed(2)})`);
  for (const t of [x, w, out, dx, dw]) be.free(t);
}
console.log(`threads ${be.threads}\n` + rows.join("\n"));
be.destroy();
