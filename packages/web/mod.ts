/**
 * tinyllama-ts on the web platform: train a small Llama in a browser tab with the project's own
 * packages (`deno task web`), and watch any run live (`deno task dashboard --run DIR`).
 *
 * An application, not a library: its `deno.json` has no name, so `deno publish` leaves it out (it imports
 * the trainer's step and the data package's sampler by path, which a published package may not).
 *
 * @module
 */
export { type Encoder, memorySampler, packDocuments, type TextSource } from "./memory_data.ts";
export { type CheckpointFile, checkpointFiles, safetensorsBytes } from "./checkpoint_files.ts";
export { type SessionOptions, type SessionStep, TrainingSession } from "./session.ts";
export { unaliasedBackend } from "./unaliased_backend.ts";
export { resolveInside } from "./serve.ts";
