// The conformance suite on the WASM backend, on one thread and on several (the kernels split their
// work differently; the results must not change).
import { conformanceSuite } from "@tinyllama-ts/backend/conformance";
import { WasmBackend } from "./wasm_backend.ts";

conformanceSuite("wasm", () => WasmBackend.create());
conformanceSuite("wasm 1 thread", () => WasmBackend.create({ threads: 1 }));
