import { pino, type Logger } from 'pino';

export type { Logger };

/** One structured logger per service; children add topic, partition, outage ids. */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    name: service,
    level,
    base: { service },
    redact: {
      paths: ['password', '*.password', 'sasl.password', 'authorization', '*.authorization'],
      censor: '[redacted]',
    },
  });
}
