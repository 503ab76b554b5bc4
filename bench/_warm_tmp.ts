import { WasmBackend } from "../packages/model/wasm_backend.ts";
const be = await WasmBackend.create({ threads: Number(Deno.args[0] ?? 2) });
const n = 1024;
const x = be.alloc(n * n), w = be.alloc(n * n), out = be.alloc(n * n);
be.write(x, new Float32Array(n * n).fill(0.5)); be.write(w, new Float32Array(n * n).fill(0.5));
const ts = [];
for (let i = 0; i < 15; i++) { const t0 = performance.now(); be.matmulForward(out, x, w, n, n, n); ts.push((2 * n ** 3 / (performance.now() - t0) / 1e6).toFixed(0)); }
console.log(be.threads, ts.join(" "));
be.destroy();
