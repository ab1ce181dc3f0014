/**
 * Typed errors. `retriable` tells the caller whether trying again can help
 * (a broker or ClickHouse that is down) or not (bad input, bad config).
 * Errors are logged once, where they are handled, not where they are thrown.
 */
export class AmiError extends Error {
  readonly retriable: boolean;
  constructor(message: string, opts: { retriable: boolean; cause?: unknown }) {
    super(message, { cause: opts.cause });
    this.name = new.target.name;
    this.retriable = opts.retriable;
  }
}

/** Configuration is wrong: fix it and start again. */
export class ConfigError extends AmiError {
  constructor(message: string) {
    super(message, { retriable: false });
  }
}

/** A message could not be decoded or does not make sense; it goes to the DLQ. */
export class BadRecordError extends AmiError {
  readonly reason: string;
  constructor(reason: string, message: string, cause?: unknown) {
    super(message, { retriable: false, cause });
    this.reason = reason;
  }
}

/** A dependency (Kafka, registry, ClickHouse) did not answer or refused for now. */
export class UnavailableError extends AmiError {
  readonly service: string;
  constructor(service: string, message: string, cause?: unknown) {
    super(`${service}: ${message}`, { retriable: true, cause });
    this.service = service;
  }
}

/** Invalid user input at an API or CLI boundary. */
export class ValidationError extends AmiError {
  constructor(message: string) {
    super(message, { retriable: false });
  }
}

export function isRetriable(err: unknown): boolean {
  if (err instanceof AmiError) return err.retriable;
  // kafkajs marks its own errors.
  if (typeof err === 'object' && err !== null && 'retriable' in err)
    return Boolean((err as { retriable: unknown }).retriable);
  return false;
}
