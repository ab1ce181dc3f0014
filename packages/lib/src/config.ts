import { z } from 'zod';
import { ConfigError } from './errors.js';

const TRUE_WORDS = ['true', '1', 'yes'];
const FALSE_WORDS = ['false', '0', 'no'];

/**
 * A boolean environment variable: true/false, 1/0 or yes/no (any case, blanks around ignored);
 * anything else is refused with a message naming what is accepted. Unset gives `fallback`.
 */
export function envBoolean(fallback: boolean) {
  return z
    .union([z.boolean(), z.string()])
    .optional()
    .transform((v, ctx): boolean => {
      if (v === undefined) return fallback;
      if (typeof v === 'boolean') return v;
      const word = v.trim().toLowerCase();
      if (TRUE_WORDS.includes(word)) return true;
      if (FALSE_WORDS.includes(word)) return false;
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message: `expected a boolean (true/false, 1/0 or yes/no), got ${JSON.stringify(v.slice(0, 40))}`,
      });
      return z.NEVER;
    });
}

/**
 * The one configuration object. Every service reads it from the environment
 * at start-up (flags override through `withOverrides`), validates it, and
 * fails fast with a message naming the variable. Defaults fit the local stack.
 */
export const commonConfigSchema = z.object({
  /** Comma-separated bootstrap brokers. */
  KAFKA_BROKERS: z.string().default('127.0.0.1:9092'),
  KAFKA_CLIENT_ID: z.string().default('ami-pipeline'),
  /** TLS to the brokers. */
  KAFKA_SSL: envBoolean(false),
  KAFKA_SASL_MECHANISM: z.enum(['none', 'scram-sha-256', 'scram-sha-512', 'plain']).default('none'),
  KAFKA_SASL_USERNAME: z.string().optional(),
  KAFKA_SASL_PASSWORD: z.string().optional(),
  SCHEMA_REGISTRY_URL: z.string().url().default('http://127.0.0.1:8081/apis/ccompat/v7'),
  CLICKHOUSE_URL: z.string().url().default('http://127.0.0.1:8123'),
  CLICKHOUSE_USER: z.string().default('default'),
  CLICKHOUSE_PASSWORD: z.string().default(''),
  CLICKHOUSE_DB: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a plain identifier')
    .default('ami'),
  /** Prefix of every topic name: `ami` gives ami.reads, ami.events, ... */
  AMI_TOPIC_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9._-]+$/)
    .default('ami'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Port of the Prometheus /metrics and /healthz endpoint; 0 disables it. */
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(0),
});

export type CommonConfig = z.infer<typeof commonConfigSchema>;

/** Parse `env` with `schema`, turning zod's issues into one readable ConfigError. */
export function parseConfig<S extends z.ZodTypeAny>(
  schema: S,
  env: Record<string, string | undefined> = process.env,
): z.infer<S> {
  const result = schema.safeParse(env);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}

export function loadCommonConfig(env: Record<string, string | undefined> = process.env): CommonConfig {
  const cfg = parseConfig(commonConfigSchema, env);
  if (cfg.KAFKA_SASL_MECHANISM !== 'none' && (!cfg.KAFKA_SASL_USERNAME || !cfg.KAFKA_SASL_PASSWORD)) {
    throw new ConfigError(
      'invalid configuration:\n  KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are required when KAFKA_SASL_MECHANISM is set',
    );
  }
  return cfg;
}
