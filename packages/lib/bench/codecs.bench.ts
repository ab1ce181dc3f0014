/**
 * npx tsx packages/lib/bench/codecs.bench.ts
 *
 * What reading compressed batches costs the raw fetch: the record sets
 * captured from the real broker (packages/lib/test/fixtures/compressed/, 1,000
 * records of ~90 bytes in one batch, compressed by librdkafka and by the
 * broker's Java codecs) indexed by `indexRecords` (decompression included),
 * against the same records uncompressed (the baseline), in records/s and MB/s
 * of records out. Then each codec's decoder alone beside the alternatives
 * considered, when installed in BENCH_ALT_DIR (not dependencies of the
 * project: `npm install --prefix DIR snappy@7.4.3 lz4js@0.2.0
 * @oneidentity/zstd-js@1.0.3`: native snappy, pure-JS LZ4, the reference zstd
 * in WebAssembly), on the same bytes: the figures the choice of library rests
 * on (docs/performance.md).
 *
 * Env: BENCH_MS (1000): time per measurement, best of 3; BENCH_ALT_DIR.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { decompress as fzstd } from 'fzstd';
import { decompressFrameSync } from 'lz4-napi';
import snappyjs from 'snappyjs';
import { indexRecords, inflateRecordSet, unsnappy } from '../src/kafkaWire/index.js';
import { capturedRecords, compressedManifest } from '../test/support/compressedFixtures.js';

const MS = Number(process.env.BENCH_MS ?? 1000);

/** Calls per second of `f`, best of 3 runs of MS each, after a warm-up. */
function perSecond(f: () => unknown): number {
  for (let i = 0; i < 50; i++) f();
  let best = 0;
  for (let round = 0; round < 3; round++) {
    let n = 0;
    const t0 = process.hrtime.bigint();
    let elapsed = 0;
    while (elapsed < MS) {
      for (let i = 0; i < 20; i++) f();
      n += 20;
      elapsed = Number(process.hrtime.bigint() - t0) / 1e6;
    }
    best = Math.max(best, (n / elapsed) * 1000);
  }
  return best;
}

type Decoder = (data: Buffer) => Uint8Array;

/** Optional alternatives, measured when installed in BENCH_ALT_DIR. */
async function alternatives(): Promise<Record<string, Array<[string, Decoder]>>> {
  const out: Record<string, Array<[string, Decoder]>> = { gzip: [], snappy: [], lz4: [], zstd: [] };
  const dir = process.env.BENCH_ALT_DIR;
  if (!dir) {
    console.log('(BENCH_ALT_DIR not set: the alternatives are not measured)');
    return out;
  }
  const require = createRequire(join(dir, 'node_modules', 'bench.js'));
  const load = (name: string) => {
    try {
      return require(name) as Record<string, unknown>;
    } catch {
      console.log(`(${name} not installed in ${dir}: not measured)`);
      return undefined;
    }
  };
  const snappy = load('snappy');
  if (snappy)
    out.snappy!.push(['snappy 7.4.3 (native, napi-rs)', (d) => (snappy.uncompressSync as Decoder)(d)]);
  const lz4js = load('lz4js');
  if (lz4js) out.lz4!.push(['lz4js 0.2.0 (pure JS)', (d) => (lz4js.decompress as Decoder)(d)]);
  const wasm = load('@oneidentity/zstd-js/wasm/decompress/index.cjs.js');
  if (wasm) {
    const zstd = (await (wasm.ZstdInit as () => Promise<{ ZstdStream: { decompress: Decoder } }>)())
      .ZstdStream;
    out.zstd!.push(['@oneidentity/zstd-js 1.0.3 (WebAssembly)', (d) => zstd.decompress(d)]);
  }
  return out;
}

async function main(): Promise<void> {
  const manifest = compressedManifest();
  const mb = (bytes: number, perS: number) => ((bytes * perS) / 1e6).toFixed(0);
  console.log(
    `record sets captured from Kafka ${manifest.kafka} on ${manifest.captured}: ${manifest.records} records each; best of 3 x ${MS} ms\n`,
  );
  console.log('indexRecords over a whole record set (decompression included)');
  const baseline = inflateRecordSet(capturedRecords(manifest.sets[0]!));
  const basePerS = perSecond(() => indexRecords(baseline, 0));
  console.log(
    `  ${'uncompressed (baseline)'.padEnd(24)} ${Math.round(basePerS * manifest.records)
      .toLocaleString()
      .padStart(12)} records/s  ${mb(baseline.length, basePerS).padStart(6)} MB/s`,
  );
  for (const s of manifest.sets) {
    const set = capturedRecords(s);
    const perS = perSecond(() => indexRecords(set, 0));
    const inflated = inflateRecordSet(set).length;
    console.log(
      `  ${`${s.codec} (${s.writer})`.padEnd(24)} ${Math.round(perS * manifest.records)
        .toLocaleString()
        .padStart(
          12,
        )} records/s  ${mb(inflated, perS).padStart(6)} MB/s  ${(perS / basePerS).toFixed(2)} of uncompressed  (${set.length.toLocaleString()} B compressed, ${(inflated / set.length).toFixed(1)}x)`,
    );
  }

  console.log('\ndecoders alone on the same batches (MB/s of records out)');
  const chosen: Record<string, Array<[string, Decoder]>> = {
    gzip: [['node:zlib gunzipSync (chosen)', (d) => gunzipSync(d)]],
    snappy: [['snappyjs 0.7.0 (pure JS, chosen)', (d) => snappyjs.uncompress(d)]],
    lz4: [['lz4-napi 2.10.0 (native, chosen)', (d) => decompressFrameSync(d)]],
    zstd: [['fzstd 0.1.1 (pure JS, chosen)', (d) => fzstd(d)]],
  };
  const others = await alternatives();
  for (const s of manifest.sets) {
    if (s.codec === 'snappy' && s.writer === 'broker') continue; // xerial framing: the raw block is measured
    const data = capturedRecords(s).subarray(61);
    const outBytes = (
      s.codec === 'snappy' ? unsnappy(data) : inflateRecordSet(capturedRecords(s)).subarray(61)
    ).length;
    for (const [name, decode] of [...chosen[s.codec]!, ...others[s.codec]!]) {
      const perS = perSecond(() => decode(data));
      console.log(
        `  ${`${s.codec} (${s.writer})`.padEnd(22)} ${name.padEnd(36)} ${mb(outBytes, perS).padStart(6)} MB/s`,
      );
    }
  }
}

await main();
