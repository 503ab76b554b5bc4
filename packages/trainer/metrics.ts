/**
 * `OUT/metrics.jsonl`: one JSON line per optimizer step (and per validation), appended as the run goes.
 * On resumption the lines from the checkpoint's step on are dropped, so the file always reads as one
 * uninterrupted run.
 *
 * @module
 */
import { writeFileAtomic } from "@tinyllama-ts/cli";

/** A training step's line. */
export interface StepRecord {
  /** 0-based optimizer step. */
  step: number;
  /** Mean loss over the global batch, before the update; null for a skipped (non-finite) step. */
  loss: number | null;
  lr: number;
  /** Global gradient norm before clipping (null when it was not finite). */
  grad_norm: number | null;
  /** Tokens trained on so far. */
  tokens: number;
  /** This step's tokens over its wall-clock time, data included. */
  tokens_per_sec: number;
  /** Seconds since the run began (across resumptions). */
  elapsed: number;
  /** Model FLOPs utilisation, where the device's peak is known. */
  mfu?: number;
  /** Present (true) when the step was skipped for a non-finite loss or norm. */
  skipped?: true;
}

/** A validation line, after step `step`'s update. */
export interface ValRecord {
  step: number;
  val_loss: number;
  val_ppl: number;
  elapsed: number;
}

/** One line of the file. */
export type MetricsRecord = StepRecord | ValRecord;

/**
 * The lines of a metrics file, skipping a torn last line (a kill mid-write).
 *
 * @example
 * ```ts
 * import { readMetrics } from "@tinyllama-ts/trainer";
 * const path = `${await Deno.makeTempDir()}/metrics.jsonl`;
 * await Deno.writeTextFile(path, '{"step":0,"loss":8.3}\n{"step":1,"lo');
 * console.log(await readMetrics(path)); // [{ step: 0, loss: 8.3 }]
 * ```
 */
export async function readMetrics(path: string): Promise<MetricsRecord[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  const out: MetricsRecord[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    try {
      out.push(JSON.parse(line));
    } catch {
      // A line cut short by a kill: everything after it belongs to the lost tail.
      break;
    }
  }
  return out;
}

/**
 * An open metrics file.
 *
 * @example
 * ```ts
 * import { MetricsLog } from "@tinyllama-ts/trainer";
 * const log = await MetricsLog.open(`${await Deno.makeTempDir()}/metrics.jsonl`, 0);
 * log.append({ step: 0, val_loss: 2, val_ppl: Math.exp(2), elapsed: 1 });
 * log.close();
 * ```
 */
export class MetricsLog {
  readonly #file: Deno.FsFile;
  readonly #enc = new TextEncoder();

  private constructor(file: Deno.FsFile) {
    this.#file = file;
  }

  /** Opens `path` for appending, keeping only the lines of steps before `fromStep`. */
  static async open(path: string, fromStep: number): Promise<MetricsLog> {
    const kept = (await readMetrics(path)).filter((r) => r.step < fromStep);
    await writeFileAtomic(path, new TextEncoder().encode(kept.map((r) => JSON.stringify(r) + "\n").join("")));
    return new MetricsLog(await Deno.open(path, { append: true }));
  }

  /** Appends one line. */
  append(r: MetricsRecord): void {
    const bytes = this.#enc.encode(JSON.stringify(r) + "\n");
    let off = 0;
    while (off < bytes.length) off += this.#file.writeSync(bytes.subarray(off));
  }

  /** Flushes to disk (before a checkpoint, so the checkpoint's lines survive a power cut). */
  async sync(): Promise<void> {
    await this.#file.sync();
  }

  close(): void {
    this.#file.close();
  }
}
