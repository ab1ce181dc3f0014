/**
 * String keys (meter ids) to dense slots 0..n-1, for tables of a million
 * keys and more: open addressing over typed arrays, the keys' UTF-8 bytes in
 * one arena. A `Map<string, V>` of 1.2 M entries costs ~1.2 µs a lookup here
 * (a hash table of heap entries, a key string per entry: several cache misses)
 * and 1.2 M objects for every full garbage collection to mark; this is about
 * half the lookup, no object per key, and a lookup straight from the bytes of
 * a record (`getUtf8`) needs no string at all.
 *
 * Slots are reused after `delete`; the caller keeps its values in arrays (or
 * typed columns) indexed by slot.
 */
export class KeyIndex {
  /** Open-addressing table: slot + 1, EMPTY or DELETED. Capacity a power of two, at most half full. */
  private table: Int32Array;
  private mask: number;
  private used = 0;
  private deleted = 0;
  /** UTF-8 of every live key (and of deleted ones until compacted). */
  private arena: Buffer;
  private arenaEnd = 0;
  private keyStart: Int32Array;
  private keyLength: Int32Array;
  private keyHash: Int32Array;
  private readonly free: number[] = [];
  private slots = 0;
  private live = 0;
  /** A reused scratch for keys that are not ASCII. */
  private scratch = Buffer.allocUnsafe(256);

  constructor(initialCapacity = 1024) {
    const cap = tableCapacity(initialCapacity);
    this.table = new Int32Array(cap);
    this.mask = cap - 1;
    const n = Math.max(16, initialCapacity);
    this.keyStart = new Int32Array(n);
    this.keyLength = new Int32Array(n);
    this.keyHash = new Int32Array(n);
    this.arena = Buffer.allocUnsafe(n * 24);
  }

  /** Live keys. */
  get size(): number {
    return this.live;
  }

  /** The slot of `key`, or -1. */
  get(key: string): number {
    const ascii = asciiHash(key);
    if (ascii !== NOT_ASCII) return this.findAscii(key, ascii);
    const n = this.utf8(key);
    return this.find(this.scratch, 0, n, hashBytes(this.scratch, 0, n));
  }

  /** The slot of the key whose UTF-8 is `buf[start, end)`, or -1. */
  getUtf8(buf: Uint8Array, start: number, end: number): number {
    return this.find(buf, start, end, hashBytes(buf, start, end));
  }

  /** The slot of `key`, added (in a free slot, or a new one) if absent. */
  add(key: string): number {
    const found = this.get(key);
    if (found >= 0) return found;
    if ((this.used + this.deleted + 1) * 2 > this.table.length) this.rehash();
    const n = this.utf8(key);
    const hash = hashBytes(this.scratch, 0, n);
    const slot = this.free.pop() ?? this.slots++;
    if (slot >= this.keyStart.length) this.growKeys();
    if (this.arenaEnd + n > this.arena.length) this.growArena(n);
    this.scratch.copy(this.arena, this.arenaEnd, 0, n);
    this.keyStart[slot] = this.arenaEnd;
    this.keyLength[slot] = n;
    this.keyHash[slot] = hash;
    this.arenaEnd += n;
    this.insert(slot, hash);
    this.live++;
    return slot;
  }

  /** Removes `key`; returns the slot it had (free for reuse from now on), or -1. */
  delete(key: string): number {
    const ascii = asciiHash(key);
    const n = ascii === NOT_ASCII ? this.utf8(key) : 0;
    const hash = ascii === NOT_ASCII ? hashBytes(this.scratch, 0, n) : ascii;
    for (let j = hash & this.mask; ; j = (j + 1) & this.mask) {
      const e = this.table[j]!;
      if (e === EMPTY) return -1;
      if (e === DELETED) continue;
      const slot = e - 1;
      const same =
        ascii === NOT_ASCII
          ? this.sameBytes(slot, hash, this.scratch, 0, n)
          : this.sameAscii(slot, hash, key);
      if (!same) continue;
      this.table[j] = DELETED;
      this.used--;
      this.deleted++;
      this.keyLength[slot] = -1;
      this.free.push(slot);
      this.live--;
      return slot;
    }
  }

  private findAscii(key: string, hash: number): number {
    for (let j = hash & this.mask; ; j = (j + 1) & this.mask) {
      const e = this.table[j]!;
      if (e === EMPTY) return -1;
      if (e !== DELETED && this.sameAscii(e - 1, hash, key)) return e - 1;
    }
  }

  private find(buf: Uint8Array, start: number, end: number, hash: number): number {
    for (let j = hash & this.mask; ; j = (j + 1) & this.mask) {
      const e = this.table[j]!;
      if (e === EMPTY) return -1;
      if (e !== DELETED && this.sameBytes(e - 1, hash, buf, start, end)) return e - 1;
    }
  }

  private sameAscii(slot: number, hash: number, key: string): boolean {
    if (this.keyHash[slot] !== hash || this.keyLength[slot] !== key.length) return false;
    const a = this.arena;
    const at = this.keyStart[slot]!;
    for (let i = 0; i < key.length; i++) if (a[at + i] !== key.charCodeAt(i)) return false;
    return true;
  }

  private sameBytes(slot: number, hash: number, buf: Uint8Array, start: number, end: number): boolean {
    if (this.keyHash[slot] !== hash || this.keyLength[slot] !== end - start) return false;
    const a = this.arena;
    const at = this.keyStart[slot]! - start;
    for (let i = start; i < end; i++) if (a[at + i] !== buf[i]) return false;
    return true;
  }

  private insert(slot: number, hash: number): void {
    let j = hash & this.mask;
    while (this.table[j] !== EMPTY) j = (j + 1) & this.mask;
    this.table[j] = slot + 1;
    this.used++;
  }

  /** Twice the live keys' room (deleted entries dropped), and the arena compacted if half of it is dead. */
  private rehash(): void {
    const cap = tableCapacity(Math.max(this.used + 1, 16) * 2);
    this.table = new Int32Array(cap);
    this.mask = cap - 1;
    this.used = 0;
    this.deleted = 0;
    if (this.liveBytes() * 2 < this.arenaEnd) this.compactArena();
    for (let slot = 0; slot < this.slots; slot++)
      if (this.keyLength[slot]! >= 0) this.insert(slot, this.keyHash[slot]!);
  }

  private liveBytes(): number {
    let n = 0;
    for (let slot = 0; slot < this.slots; slot++) if (this.keyLength[slot]! > 0) n += this.keyLength[slot]!;
    return n;
  }

  private compactArena(): void {
    const next = Buffer.allocUnsafe(Math.max(1024, this.liveBytes() * 2));
    let end = 0;
    for (let slot = 0; slot < this.slots; slot++) {
      const len = this.keyLength[slot]!;
      if (len < 0) continue;
      this.arena.copy(next, end, this.keyStart[slot]!, this.keyStart[slot]! + len);
      this.keyStart[slot] = end;
      end += len;
    }
    this.arena = next;
    this.arenaEnd = end;
  }

  private growKeys(): void {
    const n = Math.ceil(this.keyStart.length * 1.5) + 16;
    const grow = (a: Int32Array) => {
      const b = new Int32Array(n);
      b.set(a);
      return b;
    };
    this.keyStart = grow(this.keyStart);
    this.keyLength = grow(this.keyLength);
    this.keyHash = grow(this.keyHash);
  }

  private growArena(need: number): void {
    if (this.liveBytes() * 2 < this.arenaEnd) this.compactArena();
    if (this.arenaEnd + need <= this.arena.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.arena.length * 2, this.arenaEnd + need));
    this.arena.copy(next, 0, 0, this.arenaEnd);
    this.arena = next;
  }

  /** UTF-8 of `key` into the scratch buffer; returns its length. */
  private utf8(key: string): number {
    const max = key.length * 3;
    if (max > this.scratch.length) this.scratch = Buffer.allocUnsafe(max);
    return this.scratch.write(key, 0, 'utf8');
  }
}

const EMPTY = 0;
const DELETED = -1;
/** asciiHash of a key with a character beyond ASCII (then its UTF-8 bytes are hashed). */
const NOT_ASCII = -0x80000000 - 1;

function tableCapacity(entries: number): number {
  let cap = 16;
  while (cap < entries * 2) cap *= 2;
  return cap;
}

// FNV-1a, 32 bits, over the UTF-8 bytes (for ASCII the characters are the bytes).
const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;

function hashBytes(buf: Uint8Array, start: number, end: number): number {
  let h = FNV_OFFSET;
  for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i]!, FNV_PRIME);
  return h;
}

/** hashBytes of the key's UTF-8 when the key is ASCII, else NOT_ASCII (never a 32-bit value). */
function asciiHash(key: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c > 0x7f) return NOT_ASCII;
    h = Math.imul(h ^ c, FNV_PRIME);
  }
  return h;
}
