/** Revocation keys of client certificates and of the entries of revocation lists (`src/gateway/revocation.ts`), on the TLS fixtures. */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { certificateRevocationKey, revokedKeys } from '../../src/gateway/revocation.js';
import { readPemFile } from '../../src/gateway/tls.js';
import { ROOT } from '../helpers.js';

const FIXTURES = join(ROOT, 'test/gateway/fixtures/tls');
const CRL = join(FIXTURES, 'client-ca-crl.pem');
const CRL_EMPTY = join(FIXTURES, 'client-ca-crl-empty.pem');

describe('revocation keys', () => {
  it('reads the revocation keys of certificates and lists: the revoked serial of the right issuer only', () => {
    const key = (file: string) => certificateRevocationKey(new X509Certificate(readFileSync(join(FIXTURES, file))).raw);
    const revoked = revokedKeys(readPemFile(CRL, 'certificate revocation list'));
    expect(revoked.size).toBe(1);
    expect(revoked.has(key('revoked-client-cert.pem'))).toBe(true);
    expect(revoked.has(key('ca-client-cert.pem'))).toBe(false);
    expect(key('revoked-client-cert.pem')).toMatch(/\/2002$/);
    expect(revokedKeys(readPemFile(CRL_EMPTY, 'certificate revocation list')).size).toBe(0);
    // Two lists in one text: both read.
    expect(revokedKeys(`${readPemFile(CRL_EMPTY, 'certificate revocation list')}${readPemFile(CRL, 'certificate revocation list')}`)).toEqual(revoked);
    // Not DER of the right kind: a RangeError, not a wrong answer.
    expect(() => revokedKeys('-----BEGIN X509 CRL-----\nbm90IGEgbGlzdA==\n-----END X509 CRL-----\n')).toThrow(RangeError);
    expect(() => certificateRevocationKey(new Uint8Array([0x30, 0x05, 0x02, 0x01]))).toThrow(RangeError);
    expect(() => certificateRevocationKey(new Uint8Array([0x04, 0x00]))).toThrow(RangeError);
  });

});
