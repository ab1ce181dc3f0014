import { AmiError } from '../errors.js';

/**
 * Kafka protocol error codes the wire client can meet, by name, with
 * `retriable` as the protocol defines it (org.apache.kafka.common.protocol.Errors:
 * the codes whose exception is a RetriableException). A code missing here is
 * UNKNOWN and not retriable: an answer we do not understand is not retried blindly.
 */
export const KAFKA_ERRORS: Readonly<Record<number, { name: string; retriable: boolean }>> = {
  [-1]: { name: 'UNKNOWN_SERVER_ERROR', retriable: false },
  1: { name: 'OFFSET_OUT_OF_RANGE', retriable: false },
  2: { name: 'CORRUPT_MESSAGE', retriable: true },
  3: { name: 'UNKNOWN_TOPIC_OR_PARTITION', retriable: true },
  4: { name: 'INVALID_FETCH_SIZE', retriable: false },
  5: { name: 'LEADER_NOT_AVAILABLE', retriable: true },
  6: { name: 'NOT_LEADER_OR_FOLLOWER', retriable: true },
  7: { name: 'REQUEST_TIMED_OUT', retriable: true },
  8: { name: 'BROKER_NOT_AVAILABLE', retriable: false },
  9: { name: 'REPLICA_NOT_AVAILABLE', retriable: true },
  10: { name: 'MESSAGE_TOO_LARGE', retriable: false },
  13: { name: 'NETWORK_EXCEPTION', retriable: true },
  14: { name: 'COORDINATOR_LOAD_IN_PROGRESS', retriable: true },
  15: { name: 'COORDINATOR_NOT_AVAILABLE', retriable: true },
  16: { name: 'NOT_COORDINATOR', retriable: true },
  17: { name: 'INVALID_TOPIC_EXCEPTION', retriable: false },
  18: { name: 'RECORD_LIST_TOO_LARGE', retriable: false },
  19: { name: 'NOT_ENOUGH_REPLICAS', retriable: true },
  20: { name: 'NOT_ENOUGH_REPLICAS_AFTER_APPEND', retriable: true },
  21: { name: 'INVALID_REQUIRED_ACKS', retriable: false },
  22: { name: 'ILLEGAL_GENERATION', retriable: false },
  24: { name: 'INVALID_GROUP_ID', retriable: false },
  25: { name: 'UNKNOWN_MEMBER_ID', retriable: false },
  27: { name: 'REBALANCE_IN_PROGRESS', retriable: false },
  28: { name: 'INVALID_COMMIT_OFFSET_SIZE', retriable: false },
  29: { name: 'TOPIC_AUTHORIZATION_FAILED', retriable: false },
  30: { name: 'GROUP_AUTHORIZATION_FAILED', retriable: false },
  31: { name: 'CLUSTER_AUTHORIZATION_FAILED', retriable: false },
  32: { name: 'INVALID_TIMESTAMP', retriable: false },
  33: { name: 'UNSUPPORTED_SASL_MECHANISM', retriable: false },
  34: { name: 'ILLEGAL_SASL_STATE', retriable: false },
  35: { name: 'UNSUPPORTED_VERSION', retriable: false },
  42: { name: 'INVALID_REQUEST', retriable: false },
  43: { name: 'UNSUPPORTED_FOR_MESSAGE_FORMAT', retriable: false },
  45: { name: 'OUT_OF_ORDER_SEQUENCE_NUMBER', retriable: false },
  46: { name: 'DUPLICATE_SEQUENCE_NUMBER', retriable: false },
  47: { name: 'INVALID_PRODUCER_EPOCH', retriable: false },
  48: { name: 'INVALID_TXN_STATE', retriable: false },
  49: { name: 'INVALID_PRODUCER_ID_MAPPING', retriable: false },
  50: { name: 'INVALID_TRANSACTION_TIMEOUT', retriable: false },
  51: { name: 'CONCURRENT_TRANSACTIONS', retriable: true },
  52: { name: 'TRANSACTION_COORDINATOR_FENCED', retriable: false },
  53: { name: 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED', retriable: false },
  55: { name: 'OPERATION_NOT_ATTEMPTED', retriable: false },
  56: { name: 'KAFKA_STORAGE_ERROR', retriable: true },
  58: { name: 'SASL_AUTHENTICATION_FAILED', retriable: false },
  59: { name: 'UNKNOWN_PRODUCER_ID', retriable: false },
  69: { name: 'FETCH_SESSION_ID_NOT_FOUND', retriable: true },
  70: { name: 'INVALID_FETCH_SESSION_EPOCH', retriable: true },
  72: { name: 'LISTENER_NOT_FOUND', retriable: true },
  74: { name: 'FENCED_LEADER_EPOCH', retriable: true },
  75: { name: 'UNKNOWN_LEADER_EPOCH', retriable: true },
  76: { name: 'UNSUPPORTED_COMPRESSION_TYPE', retriable: false },
  78: { name: 'OFFSET_NOT_AVAILABLE', retriable: true },
  82: { name: 'FENCED_INSTANCE_ID', retriable: false },
  87: { name: 'INVALID_RECORD', retriable: false },
  88: { name: 'UNSTABLE_OFFSET_COMMIT', retriable: true },
  89: { name: 'THROTTLING_QUOTA_EXCEEDED', retriable: true },
  90: { name: 'PRODUCER_FENCED', retriable: false },
  100: { name: 'UNKNOWN_TOPIC_ID', retriable: true },
  110: { name: 'TRANSACTION_ABORTABLE', retriable: false },
};

export const NONE = 0;
export const UNKNOWN_TOPIC_OR_PARTITION = 3;
export const LEADER_NOT_AVAILABLE = 5;
export const NOT_LEADER_OR_FOLLOWER = 6;
export const UNSUPPORTED_VERSION = 35;
export const DUPLICATE_SEQUENCE_NUMBER = 46;
export const SASL_AUTHENTICATION_FAILED = 58;

/** The name of a Kafka error code (UNKNOWN_ERROR_<code> if the table lacks it). */
export function kafkaErrorName(code: number): string {
  return KAFKA_ERRORS[code]?.name ?? `UNKNOWN_ERROR_${code}`;
}

/** Whether the Kafka protocol says the same request may succeed later. */
export function isRetriableKafkaCode(code: number): boolean {
  return KAFKA_ERRORS[code]?.retriable ?? false;
}

/**
 * A Kafka broker answered `what` with an error code. `type` is the code's
 * name (as kafkajs names it), `retriable` the protocol's verdict: an
 * authorization failure stops here with its name instead of being retried.
 */
export class KafkaProtocolError extends AmiError {
  readonly type: string;
  constructor(
    readonly what: string,
    readonly code: number,
    detail?: string | null,
    retriable = isRetriableKafkaCode(code),
  ) {
    super(
      `kafka: ${what} failed: ${kafkaErrorName(code)} (error code ${code})${detail ? `: ${detail}` : ''}`,
      {
        retriable,
      },
    );
    this.type = kafkaErrorName(code);
  }
}

/**
 * The broker does not accept any version of a request this client implements
 * (UNSUPPORTED_VERSION): a client or broker upgrade is needed, not a retry.
 */
export class UnsupportedVersionError extends KafkaProtocolError {
  constructor(
    readonly api: string,
    readonly implemented: readonly number[],
    readonly brokerRange: readonly [number, number] | undefined,
  ) {
    super(
      api,
      UNSUPPORTED_VERSION,
      brokerRange
        ? `the broker accepts versions ${brokerRange[0]}-${brokerRange[1]}, this client implements ${implemented.join(', ')}`
        : `the broker does not offer ${api} (this client implements versions ${implemented.join(', ')})`,
    );
  }
}

/** SASL authentication failed (wrong password, unknown user, mechanism not enabled): fix the configuration. */
export class SaslAuthenticationError extends KafkaProtocolError {
  constructor(what: string, code: number, detail?: string | null) {
    super(what, code, detail, false);
  }
}
