/**
 * The billing refresh's thread (BillingRefresher, billingRefresh.ts). A whole-fleet refresh
 * decodes, sorts and encodes over a million rows: seconds of CPU that, on the loader's own
 * thread, stalled its Kafka heartbeats and fetches and its ClickHouse sockets.
 */
import { parentPort } from 'node:worker_threads';
import { createClickHouse, isRetriable, tsWorkerData } from '@ami/lib';
import { refreshBilling } from './billingStore.js';
import type { BillingReply, BillingRequest, BillingWorkerData } from './billingRefresh.js';

const data = tsWorkerData<BillingWorkerData>();
const ch = createClickHouse(data.clickhouse);

async function refreshPeriod(req: BillingRequest): Promise<BillingReply> {
  const started = performance.now();
  try {
    await refreshBilling(ch, data.db, req.period, {
      asOfMs: req.asOfMs,
      lookaroundDays: data.lookaroundDays,
      settleS: data.settleS,
    });
    return { period: req.period, ok: true, ms: performance.now() - started };
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    return {
      period: req.period,
      ok: false,
      error: { name: e.name, message: e.message, retriable: isRetriable(err) },
    };
  }
}

parentPort!.on('message', (req: BillingRequest) => {
  void refreshPeriod(req).then((reply) => parentPort!.postMessage(reply));
});
