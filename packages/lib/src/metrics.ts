import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from './logger.js';

/**
 * Prometheus metrics and health endpoints of one service:
 * GET /metrics, GET /healthz (process alive), GET /readyz (dependencies answer).
 */
export class ServiceMetrics {
  readonly registry = new Registry();
  readonly consumed: Counter<'topic'>;
  readonly produced: Counter<'topic'>;
  readonly dlq: Counter<'topic' | 'reason'>;
  /** Inputs not on their feeder's partition, forwarded to a repartition topic (the detector's scale-out). */
  readonly forwarded: Counter<'topic'>;
  readonly batchSize: Histogram<'topic'>;
  readonly lag: Gauge<'topic' | 'partition'>;
  /** Seconds one INSERT (or one Kafka transaction) took, by table or topic. */
  readonly insertLatency: Histogram<'table'>;
  /** Rows a sink wrote (ClickHouse), by table. */
  readonly rowsInserted: Counter<'table'>;
  /** Outages currently OPEN or UPDATED (not yet RESTORED), by scope. */
  readonly openOutages: Gauge<'scope'>;
  private ready: () => boolean = () => true;

  constructor(readonly service: string) {
    this.registry.setDefaultLabels({ service });
    collectDefaultMetrics({ register: this.registry });
    this.consumed = new Counter({
      name: 'ami_messages_consumed_total',
      help: 'Messages consumed, by topic',
      labelNames: ['topic'],
      registers: [this.registry],
    });
    this.produced = new Counter({
      name: 'ami_messages_produced_total',
      help: 'Messages produced, by topic',
      labelNames: ['topic'],
      registers: [this.registry],
    });
    this.forwarded = new Counter({
      name: 'ami_messages_forwarded_total',
      help: "Inputs not on their feeder's partition, forwarded to the repartition topic, by source topic",
      labelNames: ['topic'],
      registers: [this.registry],
    });
    this.dlq = new Counter({
      name: 'ami_dlq_messages_total',
      help: 'Messages sent to the dead-letter topic, by source topic and reason',
      labelNames: ['topic', 'reason'],
      registers: [this.registry],
    });
    this.batchSize = new Histogram({
      name: 'ami_batch_size',
      help: 'Messages per processed batch',
      labelNames: ['topic'],
      buckets: [1, 10, 100, 1000, 5000, 20000, 100000],
      registers: [this.registry],
    });
    this.lag = new Gauge({
      name: 'ami_consumer_lag',
      help: 'High watermark minus the next offset to process',
      labelNames: ['topic', 'partition'],
      registers: [this.registry],
    });
    this.insertLatency = new Histogram({
      name: 'ami_insert_duration_seconds',
      help: 'Duration of one ClickHouse INSERT (loader) or one Kafka transaction (detector), by table',
      labelNames: ['table'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [this.registry],
    });
    this.rowsInserted = new Counter({
      name: 'ami_rows_inserted_total',
      help: 'Rows accepted by ClickHouse, by table',
      labelNames: ['table'],
      registers: [this.registry],
    });
    this.openOutages = new Gauge({
      name: 'ami_open_outages',
      help: 'Outages open (OPEN or UPDATED, not RESTORED), by scope',
      labelNames: ['scope'],
      registers: [this.registry],
    });
  }

  /** Lag of a consumed batch: the high watermark minus the offset after its last message. */
  observeBatch(
    topic: string,
    partition: number,
    size: number,
    lastOffset: string,
    highWatermark: string,
  ): void {
    this.consumed.inc({ topic }, size);
    this.batchSize.observe({ topic }, size);
    const lag = Number(highWatermark) - Number(lastOffset) - 1;
    if (Number.isFinite(lag)) this.lag.set({ topic, partition: String(partition) }, Math.max(0, lag));
  }

  /** Readiness: the service says whether its dependencies answer. */
  setReadiness(probe: () => boolean): void {
    this.ready = probe;
  }

  /** Serve the endpoints on 127.0.0.1:port (0 = a free port). */
  async serve(port: number, logger: Logger, host = '127.0.0.1'): Promise<Server> {
    const server = createServer((req, res) => {
      if (req.url === '/metrics') {
        this.registry
          .metrics()
          .then((text) => {
            res.writeHead(200, { 'Content-Type': this.registry.contentType });
            res.end(text);
          })
          .catch((err: Error) => {
            res.writeHead(500).end(err.message);
          });
        return;
      }
      if (req.url === '/healthz') return void res.writeHead(200).end('ok\n');
      if (req.url === '/readyz') {
        const ok = this.ready();
        return void res.writeHead(ok ? 200 : 503).end(ok ? 'ready\n' : 'not ready\n');
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(port, host, resolve));
    const address = server.address();
    logger.info({ address }, 'metrics and health endpoints listening');
    return server;
  }
}
