/**
 * The one strict parser for numeric flags: every CLI of the project reads its numbers here, so that
 * `1e3` is not an integer, `99999999999999999999999` is not silently rounded, `x` is not zero and a
 * bound is always named in the error.
 *
 * @module
 */
import { UserError } from "./errors.ts";

/** Bounds of {@link parseIntFlag} and {@link parseIntListFlag}, inclusive. */
export interface IntBounds {
  /** Smallest value allowed (default 0). */
  min?: number;
  /** Largest value allowed (default `Number.MAX_SAFE_INTEGER`). */
  max?: number;
}

/** Bounds of {@link parseNumberFlag}. */
export interface NumberBounds {
  /** Smallest value allowed (inclusive). */
  min?: number;
  /** Largest value allowed (inclusive, unless `belowMax`). */
  max?: number;
  /** The value must be strictly below `max`. */
  belowMax?: boolean;
  /** The value must be strictly above `min`. */
  aboveMin?: boolean;
}

const INTEGER = /^[-+]?\d+$/;
const DECIMAL = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

function describeInt(min: number, max: number): string {
  if (max === Number.MAX_SAFE_INTEGER) return `an integer ≥ ${min}`;
  return `an integer from ${min} to ${max}`;
}

/**
 * `value` of `flag` as an integer within `bounds` (default: ≥ 0). Only optional sign and digits are
 * accepted, and the value must be exactly representable (a safe integer); anything else is a
 * {@link UserError} naming the flag, the value and the allowed range.
 *
 * @example
 * ```ts
 * import { parseIntFlag } from "@tinyllama-ts/cli";
 * console.log(parseIntFlag("--workers", "4", { max: 256 })); // 4
 * ```
 */
export function parseIntFlag(flag: string, value: string, bounds: IntBounds = {}): number {
  const min = bounds.min ?? 0, max = bounds.max ?? Number.MAX_SAFE_INTEGER;
  const n = INTEGER.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UserError(`${flag} must be ${describeInt(min, max)}, got ${JSON.stringify(value)}`);
  }
  return n;
}

/**
 * `value` of `flag` as a finite decimal number (`1`, `-0.5`, `3e-4`) within `bounds`; hex, `Infinity`,
 * blanks and overflow to infinity are {@link UserError}s.
 *
 * @example
 * ```ts
 * import { parseNumberFlag } from "@tinyllama-ts/cli";
 * console.log(parseNumberFlag("--val-fraction", "0.01", { min: 0, max: 1, belowMax: true })); // 0.01
 * ```
 */
export function parseNumberFlag(flag: string, value: string, bounds: NumberBounds = {}): number {
  const n = DECIMAL.test(value) ? Number(value) : NaN;
  const { min, max } = bounds;
  const tooLow = min !== undefined && (bounds.aboveMin ? !(n > min) : !(n >= min));
  const tooHigh = max !== undefined && (bounds.belowMax ? !(n < max) : !(n <= max));
  if (!Number.isFinite(n) || tooLow || tooHigh) {
    const parts: string[] = [];
    if (min !== undefined) parts.push(`${bounds.aboveMin ? ">" : "≥"} ${min}`);
    if (max !== undefined) parts.push(`${bounds.belowMax ? "<" : "≤"} ${max}`);
    const range = parts.length > 0 ? ` ${parts.join(" and ")}` : "";
    throw new UserError(`${flag} must be a number${range}, got ${JSON.stringify(value)}`);
  }
  return n;
}

/**
 * A comma-separated list of integers (`1,2,3`), each checked as {@link parseIntFlag} checks one; the
 * error names the offending item.
 *
 * @example
 * ```ts
 * import { parseIntListFlag } from "@tinyllama-ts/cli";
 * console.log(parseIntListFlag("--prompt-ids", "1, 15043", { max: 31999 })); // [1, 15043]
 * ```
 */
export function parseIntListFlag(flag: string, value: string, bounds: IntBounds = {}): number[] {
  const parts = value.split(",").map((s) => s.trim());
  const min = bounds.min ?? 0, max = bounds.max ?? Number.MAX_SAFE_INTEGER;
  return parts.map((p, i) => {
    const n = INTEGER.test(p) ? Number(p) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new UserError(
        `${flag}: item ${i + 1} (${JSON.stringify(p)}) must be ${describeInt(min, max)}`,
      );
    }
    return n;
  });
}
