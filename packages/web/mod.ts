/**
 * tinyllama-ts on the web platform: train a small Llama in a browser tab with the project's own
 * packages (`deno task web`), and watch any run live (`deno task dashboard --run DIR`).
 *
 * @module
 */
export { type Encoder, memorySampler, packDocuments, type TextSource } from "./memory_data.ts";
export { type CheckpointFile, checkpointFiles, safetensorsBytes } from "./checkpoint_files.ts";
export { type SessionOptions, type SessionStep, TrainingSession } from "./session.ts";
export { unaliasedBackend } from "./unaliased_backend.ts";
export { resolveInside } from "./serve.ts";
