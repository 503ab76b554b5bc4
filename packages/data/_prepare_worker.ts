// Worker entry of prepare: loads the tokenizer once, then parses and tokenizes the batches it is sent.
import type { DedupMode } from "./dedup.ts";
import type { ExcludeRule, Piece } from "./_piece.ts";
import { processBatch, type TokenizerLike, type TokenizerModule } from "./_tokenize_batch.ts";

export type WorkerRequest =
  | {
    type: "init";
    tokenizerModule: string;
    tokenizerPath: string;
    dedup: DedupMode;
    excludes: ExcludeRule[];
  }
  | { type: "batch"; id: number; pieces: Piece[] };

/** The worker's global scope, typed here because JSR packages may not pull in the `deno.worker` lib. */
interface WorkerScope {
  onmessage: ((e: MessageEvent<WorkerRequest>) => void) | null;
  postMessage(message: unknown, options?: { transfer?: Transferable[] }): void;
}
const self = globalThis as unknown as WorkerScope;

let tokenizer: TokenizerLike | undefined;
let dedup: DedupMode = "none";
let excludes: ExcludeRule[] = [];

self.onmessage = async (e: MessageEvent<WorkerRequest>) => {
  const msg = e.data;
  try {
    if (msg.type === "init") {
      const mod = (await import(msg.tokenizerModule)) as TokenizerModule;
      tokenizer = await mod.loadTokenizer(msg.tokenizerPath);
      dedup = msg.dedup;
      excludes = msg.excludes;
      self.postMessage({
        type: "ready",
        vocabSize: tokenizer.vocabSize,
        bosId: tokenizer.bosId,
        eosId: tokenizer.eosId,
      });
    } else {
      const r = processBatch(tokenizer!, msg.id, msg.pieces, dedup, excludes);
      const transfer: ArrayBuffer[] = [
        r.records.buffer,
        r.skips.buffer,
        r.ids.buffer,
        r.lengths.buffer,
        r.textBytes.buffer,
        r.splitHashes.buffer,
      ];
      if (r.signatures) transfer.push(r.signatures.buffer);
      self.postMessage({ type: "result", result: r }, { transfer });
    }
  } catch (err) {
    const error = err as Error;
    self.postMessage({ type: "error", name: error?.name ?? "Error", message: error?.message ?? String(err) });
  }
};
