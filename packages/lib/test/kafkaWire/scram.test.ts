import { describe, expect, it } from 'vitest';
import { ScramClient, ScramError } from '../../src/kafkaWire/scram.js';

/** RFC 7677 section 3: the SCRAM-SHA-256 exchange of user "user", password "pencil". */
const RFC7677 = {
  nonce: 'rOprNGfwEbeRWgbNEkqO',
  clientFirst: 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
  serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  clientFinal:
    'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};

describe('ScramClient', () => {
  it('reproduces the RFC 7677 SCRAM-SHA-256 test vector and accepts the server signature', () => {
    const c = new ScramClient('sha256', 'user', 'pencil', RFC7677.nonce);
    expect(c.first()).toBe(RFC7677.clientFirst);
    expect(c.final(RFC7677.serverFirst)).toBe(RFC7677.clientFinal);
    expect(() => c.verify(RFC7677.serverFinal)).not.toThrow();
  });

  it('rejects a server that does not know the password (wrong signature) or refuses', () => {
    const c = new ScramClient('sha256', 'user', 'pencil', RFC7677.nonce);
    c.final(RFC7677.serverFirst);
    expect(() => c.verify('v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=')).toThrow(ScramError);
    expect(() => c.verify('e=invalid-proof')).toThrow(/invalid-proof/);
  });

  it('rejects a server nonce that does not extend the client’s, and too few iterations', () => {
    const c = new ScramClient('sha512', 'user', 'pencil', 'abc');
    expect(() => c.final('r=xyz123,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096')).toThrow(/nonce/);
    expect(() => c.final('r=abc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096')).toThrow(/nonce/);
    expect(() => c.final('r=abcdef,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1')).toThrow(/iterations/);
    const ok = c.final('r=abcdef,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096');
    expect(ok).toMatch(/^c=biws,r=abcdef,p=[A-Za-z0-9+/]{86}==$/); // a 64-byte SHA-512 proof
  });

  it('escapes = and , in the user name (RFC 5802 saslname)', () => {
    expect(new ScramClient('sha512', 'a=b,c', 'p', 'n').first()).toBe('n,,n=a=3Db=2Cc,r=n');
  });
});
