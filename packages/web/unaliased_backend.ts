/**
 * A backend whose ops never see one tensor twice in a call. Some ops may run in place (`ropeForward`'s
 * `out` may be its `x`); the WebGPU backend then binds one buffer range twice, once writable, which
 * Deno's wgpu accepts and the browsers' Dawn rejects ("writable storage buffer binding aliasing").
 * Wrapped, such a call reads a copy of the aliased input instead (a scratch tensor per size, kept
 * until `destroy`): the op computes the same values from the same inputs, so the results are the same.
 *
 * @module
 */
import type { Backend, Tensor } from "@tinyllama-ts/backend";

function isTensor(x: unknown): x is Tensor {
  return typeof x === "object" && x !== null && "size" in x && "dtype" in x;
}

/**
 * `backend` with every aliased tensor argument after the first replaced by a copy.
 *
 * @example
 * ```ts
 * import { ReferenceBackend } from "@tinyllama-ts/backend";
 * import { unaliasedBackend } from "./mod.ts";
 * const be = unaliasedBackend(new ReferenceBackend());
 * const x = be.alloc(4);
 * be.write(x, new Float32Array([1, 2, 3, 4]));
 * be.add(x, x, x, 4);
 * console.log(await be.read(x)); // Float32Array [2, 4, 6, 8]
 * ```
 */
export function unaliasedBackend(backend: Backend): Backend {
  const scratch = new Map<string, Tensor>();
  const owned: Tensor[] = [];
  const MEMORY_OPS = new Set(["alloc", "allocGroup", "free", "write", "read", "zero", "destroy"]);
  return new Proxy(backend, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== "function" || typeof prop !== "string") return value;
      if (prop === "destroy") {
        return () => {
          for (const t of owned) target.free(t);
          owned.length = 0;
          scratch.clear();
          target.destroy();
        };
      }
      if (MEMORY_OPS.has(prop)) return value.bind(target);
      return (...args: unknown[]) => {
        const seen = new Set<Tensor>();
        const used = new Set<Tensor>();
        const fixed = args.map((a) => {
          if (!isTensor(a)) return a;
          if (!seen.has(a)) {
            seen.add(a);
            return a;
          }
          const key = `${a.dtype}:${a.size}`;
          let copy = scratch.get(key);
          if (copy === undefined || used.has(copy)) {
            copy = target.alloc(a.size, a.dtype);
            owned.push(copy);
            if (!scratch.has(key)) scratch.set(key, copy);
          }
          used.add(copy);
          target.copy(copy, a, a.size);
          return copy;
        });
        return value.apply(target, fixed);
      };
    },
  });
}
