/**
 * A one-line progress bar on stderr, redrawn at most every 200 ms and only when stderr is a terminal
 * (so logs and tests stay clean); `done()` prints the final state once either way.
 *
 * @example
 * ```ts
 * import { Progress } from "@tinyllama-ts/cli";
 * const bar = new Progress({ total: 10, label: "steps" });
 * for (let i = 0; i < 10; i++) bar.update(i + 1, "loss 2.31");
 * bar.done();
 * ```
 */
export class Progress {
  readonly #total: number;
  readonly #label: string;
  readonly #start = performance.now();
  readonly #tty: boolean;
  #last = 0;
  #current = 0;
  #info = "";

  constructor(opts: { total: number; label: string; forceTty?: boolean }) {
    this.#total = opts.total;
    this.#label = opts.label;
    this.#tty = opts.forceTty ?? Deno.stderr.isTerminal();
  }

  /** Sets the count done and an extra text (loss, tok/s, ...). */
  update(current: number, info = ""): void {
    this.#current = current;
    this.#info = info;
    const now = performance.now();
    if (this.#tty && now - this.#last > 200) {
      this.#last = now;
      this.#write(`\r${this.line()}\x1b[K`);
    }
  }

  /** The bar as text: label, count, bar, percentage, extra info, elapsed and ETA. */
  line(): string {
    const frac = this.#total > 0 ? Math.min(1, this.#current / this.#total) : 0;
    const width = 24;
    const filled = Math.round(frac * width);
    const elapsed = (performance.now() - this.#start) / 1000;
    const eta = frac > 0 ? elapsed * (1 - frac) / frac : NaN;
    return `${this.#label} ${this.#current}/${this.#total} [${"#".repeat(filled)}${
      ".".repeat(width - filled)
    }] ${(frac * 100).toFixed(0)}% ${this.#info} ${formatSeconds(elapsed)} ETA ${formatSeconds(eta)}`;
  }

  /** Prints the final line and a newline. */
  done(): void {
    this.#write(`${this.#tty ? "\r" : ""}${this.line()}${this.#tty ? "\x1b[K" : ""}\n`);
  }

  #write(s: string): void {
    Deno.stderr.writeSync(new TextEncoder().encode(s));
  }
}

/** `73` → `1m13s`; NaN → `?`. */
export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return "?";
  if (s < 60) return `${s.toFixed(0)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${Math.floor(s % 60).toString().padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60).toString().padStart(2, "0")}m`;
}
