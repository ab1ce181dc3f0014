import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { AmiError } from '../errors.js';

/**
 * SCRAM client (RFC 5802, SHA-256 and SHA-512 per RFC 7677 and Kafka's
 * KIP-84), as plain functions over strings: the client-first message, the
 * client-final message with its proof from the server-first one, and the
 * check of the server's signature (a broker that does not know the password
 * cannot forge it). No channel binding ("n,,"), as Kafka.
 */

export type ScramHash = 'sha256' | 'sha512';

/** Kafka's floor for SCRAM iterations (ScramMechanism.minIterations). */
export const MIN_ITERATIONS = 4096;

/** The SCRAM exchange went wrong on the server's side (bad nonce, bad signature): not retriable. */
export class ScramError extends AmiError {
  constructor(message: string) {
    super(`kafka: SCRAM: ${message}`, { retriable: false });
  }
}

/** RFC 5802 saslname: '=' and ',' escaped. */
function saslName(s: string): string {
  return s.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

export class ScramClient {
  private readonly clientFirstBare: string;
  private serverSignature: Buffer | null = null;

  constructor(
    private readonly hash: ScramHash,
    username: string,
    private readonly password: string,
    readonly nonce: string = randomBytes(24).toString('base64'),
  ) {
    this.clientFirstBare = `n=${saslName(username)},r=${nonce}`;
  }

  /** client-first-message: GS2 header "n,," (no channel binding) and the bare part. */
  first(): string {
    return `n,,${this.clientFirstBare}`;
  }

  /** client-final-message for the server-first-message (r=, s=, i=), with the proof. */
  final(serverFirst: string): string {
    const attrs = parseAttributes(serverFirst);
    if (attrs.e) throw new ScramError(`the broker refused: ${attrs.e}`);
    const nonce = attrs.r;
    const salt = attrs.s;
    const iterations = Number(attrs.i);
    if (!nonce || !nonce.startsWith(this.nonce) || nonce.length === this.nonce.length)
      throw new ScramError('the broker answered with a nonce that does not extend ours');
    if (!salt) throw new ScramError('the broker sent no salt');
    if (!Number.isInteger(iterations) || iterations < MIN_ITERATIONS)
      throw new ScramError(`the broker asked for ${attrs.i} iterations (at least ${MIN_ITERATIONS})`);
    const len = this.hash === 'sha256' ? 32 : 64;
    const salted = pbkdf2Sync(
      Buffer.from(this.password, 'utf8'),
      Buffer.from(salt, 'base64'),
      iterations,
      len,
      this.hash,
    );
    const clientKey = this.hmac(salted, 'Client Key');
    const storedKey = createHash(this.hash).update(clientKey).digest();
    const withoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
    const signature = this.hmac(storedKey, authMessage);
    const proof = Buffer.alloc(clientKey.length);
    for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i]! ^ signature[i]!;
    this.serverSignature = this.hmac(this.hmac(salted, 'Server Key'), authMessage);
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  /** Checks the server-final-message (v=signature); throws unless the broker proved it knows the password. */
  verify(serverFinal: string): void {
    const attrs = parseAttributes(serverFinal);
    if (attrs.e) throw new ScramError(`the broker refused: ${attrs.e}`);
    const v = attrs.v ? Buffer.from(attrs.v, 'base64') : Buffer.alloc(0);
    if (!this.serverSignature) throw new ScramError('server-final before client-final');
    if (v.length !== this.serverSignature.length || !timingSafeEqual(v, this.serverSignature))
      throw new ScramError('the broker signature does not match: not the broker that holds our credentials');
  }

  private hmac(key: Buffer, data: string): Buffer {
    return createHmac(this.hash, key).update(data, 'utf8').digest();
  }
}

/** "a=1,b=2" to {a: '1', b: '2'} (values may contain '='). */
function parseAttributes(msg: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of msg.split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return out;
}
