import { describe, expect, it } from 'vitest';
import { isTransientKafkaError, retryKafkaStartup, StartupTimeoutError } from '../src/index.js';

/** Start-up on a topic created a moment ago (issue 19, defect 6): transient Kafka errors are retried, by type. */
const notHosted = () =>
  Object.assign(new Error('This server does not host this topic-partition'), {
    type: 'UNKNOWN_TOPIC_OR_PARTITION',
    retriable: true,
  });

describe('isTransientKafkaError', () => {
  it('classifies by error type, through kafkajs wrappers, never by text', () => {
    expect(isTransientKafkaError(notHosted())).toBe(true);
    const exhausted = Object.assign(new Error('retries exhausted'), {
      name: 'KafkaJSNumberOfRetriesExceeded',
      retriable: false,
      originalError: notHosted(),
    });
    expect(isTransientKafkaError(exhausted)).toBe(true);
    const denied = Object.assign(new Error('This server does not host this topic-partition'), {
      type: 'TOPIC_AUTHORIZATION_FAILED',
    });
    expect(isTransientKafkaError(denied)).toBe(false);
    expect(isTransientKafkaError(new Error('LEADER_NOT_AVAILABLE'))).toBe(false);
  });
});

describe('retryKafkaStartup', () => {
  it('retries transient errors until the step succeeds', async () => {
    let attempts = 0;
    const got = await retryKafkaStartup('metadata', async () => {
      if (++attempts < 3) throw notHosted();
      return 'ok';
    });
    expect([got, attempts]).toEqual(['ok', 3]);
  });

  it('throws other errors at once', async () => {
    let attempts = 0;
    await expect(
      retryKafkaStartup('metadata', async () => {
        attempts++;
        throw new TypeError('a bug');
      }),
    ).rejects.toThrow(TypeError);
    expect(attempts).toBe(1);
  });

  it('gives up at the deadline with a typed, retriable error naming the step', async () => {
    const err = await retryKafkaStartup(
      'leaders of t.reads',
      async () => {
        throw notHosted();
      },
      { deadlineMs: 300 },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StartupTimeoutError);
    expect((err as StartupTimeoutError).errorCode).toBe('kafka-not-ready');
    expect((err as StartupTimeoutError).retriable).toBe(true);
    expect((err as Error).message).toMatch(/^kafka: leaders of t\.reads: still failing after 300 ms/);
  });
});
