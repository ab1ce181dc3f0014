/** snappyjs ships no types; the two functions it exports, as its README documents them. */
declare module 'snappyjs' {
  /** Decompresses one raw snappy block; throws 'Invalid Snappy bitstream' on bad data. */
  export function uncompress<T extends Uint8Array | ArrayBuffer>(compressed: T, maxLength?: number): T;
  /** Compresses into one raw snappy block. */
  export function compress<T extends Uint8Array | ArrayBuffer>(uncompressed: T): T;
  const snappyjs: { uncompress: typeof uncompress; compress: typeof compress };
  export default snappyjs;
}
