import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * One structured logger per service; children add topic, partition, outage ids.
 * `fd` 2 sends logs to stderr when stdout carries data (e.g. a benchmark's progress lines).
 */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? 'info', fd = 1): Logger {
  const options = {
    name: service,
    level,
    base: { service },
    redact: {
      paths: ['password', '*.password', 'sasl.password', 'authorization', '*.authorization'],
      censor: '[redacted]',
    },
  };
  return fd === 1 ? pino(options) : pino(options, pino.destination(fd));
}
