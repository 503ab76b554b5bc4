/**
 * Helpers shared by this package's tests.
 *
 * @module
 */

/** Where the tokenizer fixtures live (`tests/fixtures/tokenizer/`). */
export const FIXTURES = new URL("../../tests/fixtures/tokenizer/", import.meta.url).pathname;

/** Reads a gzipped JSON fixture. */
export async function readGzipJson<T>(name: string): Promise<T> {
  const file = await Deno.open(FIXTURES + name);
  const text = await new Response(file.readable.pipeThrough(new DecompressionStream("gzip"))).text();
  return JSON.parse(text) as T;
}

/** Lowercase hex SHA-256 of `bytes`. */
export async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Collects up to `limit` failure descriptions while counting all of them. */
export class Mismatches {
  count = 0;
  readonly examples: string[] = [];
  constructor(readonly limit = 5) {}
  add(describe: () => string): void {
    if (this.count++ < this.limit) this.examples.push(describe());
  }
  /** "0" or "N, e.g. ..." for assertion messages. */
  toString(): string {
    return this.count === 0 ? "0" : `${this.count}, e.g.\n${this.examples.join("\n")}`;
  }
}

/** Short printable form of a text for failure messages. */
export function show(text: string, max = 80): string {
  const s = JSON.stringify(text);
  return s.length > max ? s.slice(0, max) + "…" : s;
}

/** Element-wise equality of two id lists. */
export function sameIds(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
