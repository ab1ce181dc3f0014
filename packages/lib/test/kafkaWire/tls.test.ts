import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Connection, TlsCertificateError } from '../../src/kafkaWire/protocol.js';

/**
 * The connection's TLS settings against a real TLS server (Node's, with a
 * certificate for 127.0.0.1 signed by a throw-away CA made with openssl): the
 * negotiated version and suite that benches report, the suites a client
 * offers, and a certificate from another CA refused for good.
 */
describe('Connection over TLS', () => {
  let dir: string;
  let ca: Buffer;
  let otherCa: Buffer;
  let server: tls.Server;
  let plain: net.Server;
  let port: number;
  let plainPort: number;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ami-tls-test-'));
    const ssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    const newCa = (name: string) =>
      ssl(
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-keyout',
          `${name}.key`,
          '-out',
          `${name}.pem`,
        ].concat(['-days', '1', '-subj', `/CN=${name}`]),
      );
    newCa('ca');
    newCa('other-ca');
    ssl([
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'server.key',
      '-out',
      'server.csr',
      '-subj',
      '/CN=127.0.0.1',
    ]);
    writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\n');
    ssl(
      ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial'].concat([
        '-out',
        'server.crt',
        '-days',
        '1',
        '-extfile',
        'server.ext',
      ]),
    );
    ca = readFileSync(join(dir, 'ca.pem'));
    otherCa = readFileSync(join(dir, 'other-ca.pem'));
    server = tls.createServer({
      key: readFileSync(join(dir, 'server.key')),
      cert: readFileSync(join(dir, 'server.crt')),
    });
    server.on('secureConnection', (s) => s.on('error', () => undefined));
    plain = net.createServer((s) => s.on('error', () => undefined));
    port = await listen(server);
    plainPort = await listen(plain);
  });

  afterAll(async () => {
    await Promise.all([server, plain].map((s) => new Promise((r) => s.close(r))));
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports the negotiated TLS version and the suite, and offers only the suites asked for', async () => {
    const c = await Connection.open('127.0.0.1', port, { ca, ciphers: 'TLS_AES_128_GCM_SHA256' }, 'test');
    try {
      expect(c.tls).toBe(true);
      expect(c.tlsSession).toEqual({ protocol: 'TLSv1.3', cipher: 'TLS_AES_128_GCM_SHA256' });
    } finally {
      c.close();
    }
    const d = await Connection.open('127.0.0.1', port, { ca }, 'test');
    try {
      // Node's default list: an AEAD suite of TLS 1.3 (which one is the server's choice).
      expect(d.tlsSession?.protocol).toBe('TLSv1.3');
      expect(d.tlsSession?.cipher).toMatch(/^TLS_(AES_(128|256)_GCM|CHACHA20_POLY1305)_SHA(256|384)$/);
    } finally {
      d.close();
    }
  });

  it('has no TLS session on plain TCP', async () => {
    const c = await Connection.open('127.0.0.1', plainPort, false, 'test');
    try {
      expect(c.tls).toBe(false);
      expect(c.tlsSession).toBeUndefined();
    } finally {
      c.close();
    }
  });

  it('refuses a certificate its CA did not sign, as an error no retry cures', async () => {
    const err = await Connection.open('127.0.0.1', port, { ca: otherCa }, 'test').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TlsCertificateError);
    expect((err as TlsCertificateError).retriable).toBe(false);
  });
});

function listen(s: net.Server): Promise<number> {
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as AddressInfo).port)));
}
