/**
 * A min-heap of numbers in a growing Float64Array, for the BPE merge loops: keys pack a merge's rank
 * and position as `rank * 2^32 + position`, so the smallest key is the best-ranked, leftmost pair.
 *
 * @module
 */

/**
 * @example
 * ```ts
 * import { KeyHeap } from "./_key_heap.ts";
 * const h = new KeyHeap();
 * h.push(5);
 * h.push(2);
 * h.pop(); // 2
 * h.size; // 1
 * ```
 */
export class KeyHeap {
  #h = new Float64Array(256);
  #size = 0;

  /** Keys held. */
  get size(): number {
    return this.#size;
  }

  /** Drops every key. */
  clear(): void {
    this.#size = 0;
  }

  push(key: number): void {
    if (this.#size >= this.#h.length) {
      const bigger = new Float64Array(this.#h.length * 2);
      bigger.set(this.#h);
      this.#h = bigger;
    }
    const h = this.#h;
    let i = this.#size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent] <= key) break;
      h[i] = h[parent];
      i = parent;
    }
    h[i] = key;
  }

  /** Removes and returns the smallest key; the heap must not be empty. */
  pop(): number {
    const h = this.#h;
    const top = h[0];
    const size = --this.#size;
    const last = h[size];
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= size) break;
      if (child + 1 < size && h[child + 1] < h[child]) child++;
      if (h[child] >= last) break;
      h[i] = h[child];
      i = child;
    }
    h[i] = last;
    return top;
  }
}
