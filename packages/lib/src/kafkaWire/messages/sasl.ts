import { Reader, Writer } from '../protocol.js';

/** SaslHandshake v1 (the mechanism) and SaslAuthenticate v0-2 (the mechanism's messages, framed by Kafka). */

export function encodeSaslHandshakeRequest(_version: number, mechanism: string): Buffer[] {
  return new Writer().string(mechanism).done();
}

export interface SaslHandshakeAnswer {
  code: number;
  /** The mechanisms the broker enables on this listener. */
  mechanisms: string[];
}

export function decodeSaslHandshakeResponse(body: Buffer, _version: number): SaslHandshakeAnswer {
  const r = new Reader(body);
  const code = r.int16();
  const mechanisms: string[] = [];
  for (let n = r.int32(); n > 0; n--) mechanisms.push(r.string()!);
  return { code, mechanisms };
}

export function encodeSaslAuthenticateRequest(version: number, authBytes: Buffer): Buffer[] {
  if (version >= 2) return new Writer().compactBytes(authBytes).tags().done();
  return new Writer().bytes(authBytes).done();
}

export interface SaslAuthenticateAnswer {
  code: number;
  message: string | null;
  authBytes: Buffer;
  /** v1+: the broker closes the connection after this long unless it re-authenticates (0: never). */
  sessionLifetimeMs: number;
}

export function decodeSaslAuthenticateResponse(body: Buffer, version: number): SaslAuthenticateAnswer {
  const r = new Reader(body);
  const code = r.int16();
  const flexible = version >= 2;
  const message = flexible ? r.compactString() : r.string();
  const authBytes = (flexible ? r.compactBytes() : r.bytes()) ?? Buffer.alloc(0);
  const sessionLifetimeMs = version >= 1 ? Number(r.int64()) : 0;
  return { code, message, authBytes, sessionLifetimeMs };
}
