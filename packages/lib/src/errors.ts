/**
 * Typed errors. `retriable` tells the caller whether trying again can help
 * (a broker or ClickHouse that is down) or not (bad input, bad config), and
 * `code` names the failure for logs, metrics and tests (never parse the text).
 * Errors are logged once, where they are handled, not where they are thrown.
 */
export class AmiError extends Error {
  readonly retriable: boolean;
  /** (Not `code`: the wire client's KafkaProtocolError keeps the broker's numeric code there.) */
  readonly errorCode: string;
  constructor(message: string, opts: { retriable: boolean; cause?: unknown; code?: string }) {
    super(message, { cause: opts.cause });
    this.name = new.target.name;
    this.retriable = opts.retriable;
    this.errorCode = opts.code ?? (opts.retriable ? 'unavailable' : 'failed');
  }
}

/** Configuration is wrong: fix it and start again. */
export class ConfigError extends AmiError {
  constructor(message: string) {
    super(message, { retriable: false, code: 'bad-config' });
  }
}

/** A message could not be decoded or does not make sense; it goes to the DLQ. */
export class BadRecordError extends AmiError {
  readonly reason: string;
  constructor(reason: string, message: string, cause?: unknown) {
    super(message, { retriable: false, cause, code: reason });
    this.reason = reason;
  }
}

/** A dependency (Kafka, registry, ClickHouse) did not answer or refused for now. */
export class UnavailableError extends AmiError {
  readonly service: string;
  constructor(service: string, message: string, cause?: unknown, code = `${service}-unavailable`) {
    super(`${service}: ${message}`, { retriable: true, cause, code });
    this.service = service;
  }
}

/**
 * A dependency was still not ready when a start-up deadline passed (say, a
 * freshly created topic whose partitions have no leader yet). Retriable: a
 * supervisor that starts the service again may succeed.
 */
export class StartupTimeoutError extends UnavailableError {
  constructor(service: string, message: string, cause?: unknown) {
    super(service, message, cause, `${service}-not-ready`);
  }
}

/** Invalid user input at an API or CLI boundary. */
export class ValidationError extends AmiError {
  constructor(message: string) {
    super(message, { retriable: false, code: 'invalid-input' });
  }
}

/**
 * The ClickHouse server refused a query with an error code (its `Code: NNN`, the
 * X-ClickHouse-Exception-Code header). `retriable` follows the code (createClickHouseError in
 * clickhouse.ts): a missing table or column, a type mismatch or a refused login stays wrong on
 * every retry; too many parts or a memory limit passes.
 */
export class ClickHouseError extends AmiError {
  /** ClickHouse's numeric error code, e.g. 16 (NO_SUCH_COLUMN_IN_TABLE). */
  readonly clickhouseCode: number;
  constructor(message: string, clickhouseCode: number, name: string, retriable: boolean, cause?: unknown) {
    super(message, { retriable, cause, code: name });
    this.clickhouseCode = clickhouseCode;
  }
}

/** A child process (a stack component, a service the CLI started) failed or could not start. */
export class ProcessError extends AmiError {
  constructor(message: string, opts: { retriable?: boolean; cause?: unknown } = {}) {
    super(message, { retriable: opts.retriable ?? false, cause: opts.cause, code: 'process-failed' });
  }
}

/** Something needed is not installed or not set up here (a jar, a listener): install or configure it. */
export class NotInstalledError extends AmiError {
  constructor(message: string) {
    super(message, { retriable: false, code: 'not-installed' });
  }
}

/** A wait for the pipeline (a consumer catching up, a summary line) ran out of time. */
export class DeadlineError extends AmiError {
  constructor(message: string) {
    super(message, { retriable: true, code: 'deadline' });
  }
}

export function isRetriable(err: unknown): boolean {
  if (err instanceof AmiError) return err.retriable;
  // kafkajs marks its own errors.
  if (typeof err === 'object' && err !== null && 'retriable' in err)
    return Boolean((err as { retriable: unknown }).retriable);
  return false;
}
