/**
 * The flags of the two servers' CLIs.
 *
 * @module
 */
import { UserError } from "@tinyllama-ts/cli";

/** Parses `--name value` / `--name=value` pairs from `args`; every name must be in `known`. */
export function parseFlags(args: readonly string[], known: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith("--")) throw new UserError(`unexpected argument "${a}"`);
    const eq = a.indexOf("=");
    const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
    if (!known.includes(name)) {
      throw new UserError(`unknown flag --${name} (expected ${known.map((k) => `--${k}`).join(", ")})`);
    }
    const value = eq < 0 ? args[++i] : a.slice(eq + 1);
    if (value === undefined) throw new UserError(`--${name} needs a value`);
    out.set(name, value);
  }
  return out;
}

/** `--port`'s value as a port number. */
export function portOf(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) {
    throw new UserError(`--port ${value}: must be an integer from 0 to 65535`);
  }
  return n;
}
