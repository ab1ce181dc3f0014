import { ConfigError } from '../errors.js';
import { APIS, chooseVersion } from './apis.js';
import { KafkaProtocolError, SaslAuthenticationError, UNSUPPORTED_VERSION } from './kafkaErrors.js';
import { decodeApiVersionsResponse, encodeApiVersionsRequest } from './messages/apiVersions.js';
import {
  decodeSaslAuthenticateResponse,
  decodeSaslHandshakeResponse,
  encodeSaslAuthenticateRequest,
  encodeSaslHandshakeRequest,
} from './messages/sasl.js';
import type { Connection } from './protocol.js';
import { ScramClient } from './scram.js';

/**
 * What happens on a new connection before any other request: ApiVersions
 * (the broker's version ranges, from which each request's version is chosen),
 * then SASL when configured: SaslHandshake, then the mechanism's exchange in
 * SaslAuthenticate requests (SCRAM-SHA-256/512; PLAIN only over TLS, as it
 * sends the password itself).
 */

export interface WireSasl {
  mechanism: 'scram-sha-256' | 'scram-sha-512' | 'plain';
  username: string;
  password: string;
}

/** Kafka's names of the mechanisms. */
const MECHANISM_NAMES: Record<WireSasl['mechanism'], string> = {
  'scram-sha-256': 'SCRAM-SHA-256',
  'scram-sha-512': 'SCRAM-SHA-512',
  plain: 'PLAIN',
};

/** ApiVersions, then SASL if `sasl` is given. Throws typed errors; the caller closes the connection. */
export async function openSession(conn: Connection, sasl?: WireSasl): Promise<void> {
  conn.versions = await apiVersions(conn);
  if (sasl) await authenticate(conn, sasl);
}

/**
 * The broker's version ranges. Asked at the highest ApiVersions version this
 * client speaks; a broker that does not serve it answers UNSUPPORTED_VERSION
 * with its own ApiVersions range, and is asked again within it.
 */
export async function apiVersions(conn: Connection): Promise<Map<number, readonly [number, number]>> {
  let version = APIS.apiVersions.implemented.at(-1)!;
  for (let attempt = 1; ; attempt++) {
    const body = await conn.request(APIS.apiVersions.key, version, encodeApiVersionsRequest(version));
    const { code, versions } = decodeApiVersionsResponse(body, version);
    if (code === 0) return versions;
    if (code !== UNSUPPORTED_VERSION || attempt > 1) throw new KafkaProtocolError('ApiVersions', code);
    version = chooseVersion(APIS.apiVersions, versions);
  }
}

export async function authenticate(conn: Connection, sasl: WireSasl): Promise<void> {
  if (sasl.mechanism === 'plain' && !conn.tls)
    throw new ConfigError('KAFKA_SASL_MECHANISM=plain sends the password in clear: it needs KAFKA_SSL=true');
  const mechanism = MECHANISM_NAMES[sasl.mechanism];
  const hv = conn.version(APIS.saslHandshake);
  const hs = decodeSaslHandshakeResponse(
    await conn.request(APIS.saslHandshake.key, hv, encodeSaslHandshakeRequest(hv, mechanism)),
    hv,
  );
  if (hs.code !== 0)
    throw new SaslAuthenticationError(
      `SaslHandshake (${mechanism})`,
      hs.code,
      `the broker enables ${hs.mechanisms.join(', ') || 'no mechanism'} on this listener`,
    );
  const av = conn.version(APIS.saslAuthenticate);
  const step = async (message: string | Buffer): Promise<string> => {
    const bytes = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
    const a = decodeSaslAuthenticateResponse(
      await conn.request(APIS.saslAuthenticate.key, av, encodeSaslAuthenticateRequest(av, bytes)),
      av,
    );
    if (a.code !== 0)
      throw new SaslAuthenticationError(
        `SASL ${mechanism} authentication of ${sasl.username}`,
        a.code,
        a.message,
      );
    return a.authBytes.toString('utf8');
  };
  if (sasl.mechanism === 'plain') {
    await step(Buffer.from(`\u0000${sasl.username}\u0000${sasl.password}`, 'utf8'));
    return;
  }
  const scram = new ScramClient(
    sasl.mechanism === 'scram-sha-256' ? 'sha256' : 'sha512',
    sasl.username,
    sasl.password,
  );
  const serverFirst = await step(scram.first());
  const serverFinal = await step(scram.final(serverFirst));
  scram.verify(serverFinal);
}
