/**
 * The one binary min-heap: plain functions over a plain array, ordered by `less`. The array stays
 * plain data (the detector persists its timers heap in snapshots); the caller keeps ties in a fixed
 * order through `less` (the simulator adds an insertion sequence: first in, first out).
 */
export function heapPush<T>(h: T[], x: T, less: (a: T, b: T) => boolean): void {
  h.push(x);
  let i = h.length - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (!less(x, h[p]!)) break;
    h[i] = h[p]!;
    i = p;
  }
  h[i] = x;
}

/** Removes and returns the least element; `undefined` when the heap is empty. */
export function heapPop<T>(h: T[], less: (a: T, b: T) => boolean): T | undefined {
  if (h.length === 0) return undefined;
  const top = h[0]!;
  const last = h.pop()!;
  if (h.length === 0) return top;
  let i = 0;
  for (;;) {
    const l = 2 * i + 1;
    const r = l + 1;
    let s = l < h.length && less(h[l]!, last) ? l : -1;
    if (r < h.length && less(h[r]!, s === -1 ? last : h[s]!)) s = r;
    if (s === -1) break;
    h[i] = h[s]!;
    i = s;
  }
  h[i] = last;
  return top;
}
