import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Worker } from 'node:worker_threads';
import { AmiError, startTsWorker, type Logger } from '@ami/lib';
import type { LoaderConfig } from './config.js';

/** What the billing thread needs: its own ClickHouse client and the refresh options. */
export interface BillingWorkerData {
  clickhouse: Pick<LoaderConfig, 'CLICKHOUSE_URL' | 'CLICKHOUSE_USER' | 'CLICKHOUSE_PASSWORD'>;
  db: string;
  lookaroundDays: number;
  settleS: number;
}
export interface BillingRequest {
  period: string;
  asOfMs: number;
}
export type BillingReply =
  | { period: string; ok: true; ms: number }
  | { period: string; ok: false; error: { name: string; message: string; retriable: boolean } };

/** A refresh that failed in the billing thread, or the thread itself. */
export class BillingRefreshError extends AmiError {}

/** Local months that may still change: last UTC month, this one, and the one WIT (UTC+9) may already be in. */
export function recentPeriods(nowMs: number): string[] {
  const month = (ms: number) => new Date(ms).toISOString().slice(0, 7);
  const d = new Date(nowMs);
  const previous = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - 1, 1);
  return [...new Set([month(previous), month(nowMs), month(nowMs + 9 * 3_600_000)])];
}

/**
 * Keeps billing_usage fresh for the months that can still change, every
 * LOADER_BILLING_REFRESH_S, in a worker thread: the loader's own thread keeps
 * heartbeating, fetching and inserting meanwhile. A tick while the last refresh
 * still runs is skipped (refreshes never pile up on a busy ClickHouse); a failed
 * one is tried again at the next tick; a dead thread is started again then.
 */
export class BillingRefresher {
  private worker: Worker | undefined;
  private pending: { resolve: (r: BillingReply) => void; reject: (e: Error) => void } | undefined;
  private running = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  /** The loader thread's longest stall during a refresh, logged with it. */
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 20 });

  constructor(
    private readonly cfg: LoaderConfig,
    private readonly logger: Logger,
  ) {}

  start(): void {
    if (this.cfg.LOADER_BILLING_REFRESH_S === 0) return;
    this.timer = setInterval(() => void this.refreshRecent(), this.cfg.LOADER_BILLING_REFRESH_S * 1000);
    this.timer.unref();
  }

  /** Refreshes the recent months one after the other; resolves when all were tried. */
  async refreshRecent(nowMs = Date.now()): Promise<void> {
    if (this.running) {
      this.logger.warn('billing refresh still running at the next tick; this tick is skipped');
      return;
    }
    this.running = true;
    this.loopDelay.reset();
    this.loopDelay.enable();
    try {
      for (const period of recentPeriods(nowMs)) {
        const reply = await this.request({ period, asOfMs: nowMs }).catch((err: Error): BillingReply => ({
          period,
          ok: false,
          error: { name: err.name, message: err.message, retriable: true },
        }));
        if (this.stopped) return;
        const loopMaxMs = Math.round(this.loopDelay.max / 1e6);
        if (reply.ok) this.logger.info({ period, ms: Math.round(reply.ms), loopMaxMs }, 'billing refreshed');
        else
          this.logger.warn(
            { period, err: reply.error, loopMaxMs },
            'billing refresh failed; next try at the next tick',
          );
      }
    } finally {
      this.loopDelay.disable();
      this.running = false;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }

  private request(req: BillingRequest): Promise<BillingReply> {
    const worker = this.worker ?? this.startWorker();
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      worker.postMessage(req);
    });
  }

  private startWorker(): Worker {
    const data: BillingWorkerData = {
      clickhouse: {
        CLICKHOUSE_URL: this.cfg.CLICKHOUSE_URL,
        CLICKHOUSE_USER: this.cfg.CLICKHOUSE_USER,
        CLICKHOUSE_PASSWORD: this.cfg.CLICKHOUSE_PASSWORD,
      },
      db: this.cfg.CLICKHOUSE_DB,
      lookaroundDays: this.cfg.BILLING_LOOKAROUND_DAYS,
      settleS: this.cfg.BILLING_SETTLE_S,
    };
    const worker = startTsWorker(new URL('./billingWorker.ts', import.meta.url), data);
    worker.unref();
    worker.on('message', (reply: BillingReply) => {
      const p = this.pending;
      this.pending = undefined;
      p?.resolve(reply);
    });
    const lost = (err: Error) => {
      if (this.worker === worker) this.worker = undefined;
      const p = this.pending;
      this.pending = undefined;
      p?.reject(err);
    };
    worker.on('error', (err) =>
      lost(new BillingRefreshError(`billing thread failed: ${err.message}`, { retriable: true, cause: err })),
    );
    worker.on('exit', (code) =>
      lost(new BillingRefreshError(`billing thread exited (code ${code})`, { retriable: true })),
    );
    this.worker = worker;
    return worker;
  }
}
