// A pool of workers (or the main thread, with 0 workers) that turn batches of raw input pieces into
// documents' ids and keys (see _tokenize_batch.ts). Results come back through promises; the caller
// consumes them in submission order.
import { UserError } from "@tinyllama-ts/cli";
import type { DedupMode } from "./dedup.ts";
import type { WorkerRequest } from "./_prepare_worker.ts";
import type { ExcludeRule, Piece } from "./_piece.ts";
import {
  type BatchResult,
  processBatch,
  type TokenizerLike,
  type TokenizerModule,
} from "./_tokenize_batch.ts";

export interface TokenizerInfo {
  vocabSize: number;
  bosId: number;
  eosId: number;
}

type Pending = { resolve: (r: BatchResult) => void; reject: (e: Error) => void };

export class TokenizerPool {
  readonly info: TokenizerInfo;
  readonly #workers: Worker[];
  readonly #inline: TokenizerLike | undefined;
  readonly #dedup: DedupMode;
  readonly #excludes: ExcludeRule[];
  readonly #pending: Map<number, Pending>[];
  #nextId = 0;
  #failure: Error | undefined;

  private constructor(
    info: TokenizerInfo,
    workers: Worker[],
    inline: TokenizerLike | undefined,
    dedup: DedupMode,
    excludes: ExcludeRule[],
  ) {
    this.info = info;
    this.#excludes = excludes;
    this.#workers = workers;
    this.#inline = inline;
    this.#dedup = dedup;
    this.#pending = workers.map(() => new Map());
    workers.forEach((w, i) => {
      w.onmessage = (e) => {
        const msg = e.data;
        if (msg.type === "result") {
          const p = this.#pending[i].get(msg.result.id);
          this.#pending[i].delete(msg.result.id);
          p?.resolve(msg.result);
        } else if (msg.type === "error") {
          this.#fail(toError(msg));
        }
      };
      w.onerror = (e) => {
        e.preventDefault();
        this.#fail(new Error(`tokenizer worker failed: ${e.message}`));
      };
    });
  }

  static async start(opts: {
    workers: number;
    tokenizerModule: string;
    tokenizerPath: string;
    dedup: DedupMode;
    /** Records dropped by field value (see {@link ExcludeRule}). */
    excludes?: ExcludeRule[];
  }): Promise<TokenizerPool> {
    const excludes = opts.excludes ?? [];
    if (opts.workers === 0) {
      const mod = (await import(opts.tokenizerModule)) as TokenizerModule;
      const tok = await mod.loadTokenizer(opts.tokenizerPath);
      return new TokenizerPool(
        { vocabSize: tok.vocabSize, bosId: tok.bosId, eosId: tok.eosId },
        [],
        tok,
        opts.dedup,
        excludes,
      );
    }
    const workers: Worker[] = [];
    try {
      const infos = await Promise.all(Array.from({ length: opts.workers }, () => {
        const w = new Worker(new URL("./_prepare_worker.ts", import.meta.url), { type: "module" });
        workers.push(w);
        return new Promise<TokenizerInfo>((resolve, reject) => {
          w.onmessage = (e) => e.data.type === "ready" ? resolve(e.data) : reject(toError(e.data));
          w.onerror = (e) => {
            e.preventDefault();
            reject(new Error(`tokenizer worker failed to start: ${e.message}`));
          };
          const init: WorkerRequest = {
            type: "init",
            tokenizerModule: opts.tokenizerModule,
            tokenizerPath: opts.tokenizerPath,
            dedup: opts.dedup,
            excludes,
          };
          w.postMessage(init);
        });
      }));
      const { vocabSize, bosId, eosId } = infos[0];
      return new TokenizerPool({ vocabSize, bosId, eosId }, workers, undefined, opts.dedup, excludes);
    } catch (e) {
      for (const w of workers) w.terminate();
      throw e;
    }
  }

  /**
   * Processes a batch on the least busy worker. The pieces' buffers are transferred to it, so the caller
   * must not use them afterwards.
   */
  submit(pieces: Piece[]): Promise<BatchResult> {
    const id = this.#nextId++;
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#inline) {
      try {
        return Promise.resolve(processBatch(this.#inline, id, pieces, this.#dedup, this.#excludes));
      } catch (e) {
        return Promise.reject(e);
      }
    }
    let k = 0;
    for (let i = 1; i < this.#workers.length; i++) if (this.#pending[i].size < this.#pending[k].size) k = i;
    return new Promise((resolve, reject) => {
      this.#pending[k].set(id, { resolve, reject });
      const req: WorkerRequest = { type: "batch", id, pieces };
      // Moved, not copied: the reader gives every piece a buffer of its own.
      const transfer = new Set<ArrayBuffer>();
      for (const p of pieces) if (p.kind !== "values") transfer.add(p.bytes.buffer);
      this.#workers[k].postMessage(req, { transfer: [...transfer] });
    });
  }

  close(): void {
    for (const w of this.#workers) w.terminate();
    this.#fail(new Error("tokenizer pool closed"));
  }

  #fail(e: Error): void {
    this.#failure ??= e;
    for (const m of this.#pending) {
      for (const p of m.values()) p.reject(this.#failure);
      m.clear();
    }
  }
}

function toError(msg: { name?: string; message?: string }): Error {
  // A UserError thrown in a worker (e.g. an unreadable tokenizer) stays a UserError here.
  return msg.name === "UserError"
    ? new UserError(msg.message ?? "")
    : new Error(msg.message ?? "worker error");
}
