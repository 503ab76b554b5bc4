/**
 * Messages between the training page and its training worker.
 *
 * @module
 */
import type { Hparams } from "../../trainer/hparams.ts";
import type { TextSource } from "../memory_data.ts";
import type { SessionStep } from "../session.ts";

/** Which backend the page asks for: the best the browser offers, or one in particular. */
export type BackendChoice = "auto" | "webgpu" | "wasm" | "wasm-single";

/** Page → worker. */
export type ToWorker =
  | {
    type: "start";
    backend: BackendChoice;
    preset: string;
    hparams: Partial<Hparams>;
    tokenizerModel: Uint8Array;
    sources: TextSource[];
  }
  | { type: "pause" }
  | { type: "resume" }
  | { type: "sample"; id: number; prompt: string; maxNewTokens?: number }
  | { type: "checkpoint"; id: number };

/** Worker → page. */
export type FromWorker =
  | {
    type: "ready";
    backend: string;
    device: string;
    /** Why this backend: what was tried before it. */
    note: string;
    sourceTokens: { name: string; tokens: number }[];
    maxSteps: number;
    stepTokens: number;
  }
  | { type: "step"; record: SessionStep }
  | { type: "done" }
  | { type: "sample"; id: number; text: string }
  | { type: "checkpoint"; id: number; files: { name: string; bytes: Uint8Array }[] }
  | { type: "error"; message: string; id?: number };
