/**
 * Which client certificates a set of revocation lists revokes, for the sessions already
 * open when the lists change (`GatewayServer.reloadTls`). OpenSSL checks the lists at each
 * handshake, but Node offers no way to ask it about a certificate after the handshake, so
 * this reads the two DER structures far enough to compare (issuer, serial number) pairs.
 * It does not check the lists' signatures: OpenSSL does that for every new connection, and
 * the lists come from the gateway's own configuration.
 * @module
 */

/** One DER element: its tag, where its content starts and ends, and where the element started. */
interface Tlv {
  tag: number;
  start: number;
  end: number;
  /** Offset of the tag byte: `der.subarray(at, end)` is the whole element. */
  at: number;
}

/** The DER element at `at`; throws a `RangeError` when it runs past `limit`. */
function tlv(der: Uint8Array, at: number, limit: number): Tlv {
  if (at + 2 > limit) throw new RangeError(`DER element at ${at} is cut short`);
  const tag = der[at]!;
  // Multi-byte tags do not occur in certificates and lists.
  if ((tag & 0x1f) === 0x1f) throw new RangeError(`DER element at ${at} has a multi-byte tag`);
  let len = der[at + 1]!;
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || start + n > limit) throw new RangeError(`DER element at ${at} has a bad length`);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[start + i]!;
    start += n;
  }
  const end = start + len;
  if (end > limit) throw new RangeError(`DER element at ${at} runs past its container`);
  return { tag, start, end, at };
}

/** The elements inside a constructed element. */
function children(der: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.start; at < parent.end; ) {
    const t = tlv(der, at, parent.end);
    out.push(t);
    at = t.end;
  }
  return out;
}

const SEQUENCE = 0x30;
const INTEGER = 0x02;
const hex = (der: Uint8Array, t: Tlv, whole = false) => Buffer.from(der.subarray(whole ? t.at : t.start, t.end)).toString('hex');

/** The outer SEQUENCE and its first element, the to-be-signed part. */
function tbs(der: Uint8Array, what: string): Tlv[] {
  const outer = tlv(der, 0, der.length);
  if (outer.tag !== SEQUENCE) throw new RangeError(`${what} does not start with a SEQUENCE`);
  const t = children(der, outer)[0];
  if (t === undefined || t.tag !== SEQUENCE) throw new RangeError(`${what} has no to-be-signed SEQUENCE`);
  return children(der, t);
}

/**
 * A certificate's revocation key: its issuer's encoded name and its serial number (hex,
 * `issuer/serial`), as {@link revokedKeys} gives them.
 * @param der the certificate, DER (`PeerCertificate.raw`).
 * @throws RangeError when it is not a certificate's DER.
 */
export function certificateRevocationKey(der: Uint8Array): string {
  const f = tbs(der, 'certificate');
  // [0] EXPLICIT version, then serialNumber, signature, issuer.
  const i = f[0]?.tag === 0xa0 ? 1 : 0;
  const serial = f[i];
  const issuer = f[i + 2];
  if (serial?.tag !== INTEGER || issuer?.tag !== SEQUENCE) throw new RangeError('certificate: no serial number and issuer where expected');
  return `${hex(der, issuer, true)}/${hex(der, serial)}`;
}

/**
 * Every certificate the revocation lists of a PEM text revoke, as
 * {@link certificateRevocationKey} keys: the list's issuer with each revoked serial number.
 * @param pem one or more `-----BEGIN X509 CRL-----` blocks.
 * @throws RangeError when a block is not a revocation list's DER.
 */
export function revokedKeys(pem: string): Set<string> {
  const keys = new Set<string>();
  for (const m of pem.matchAll(/-----BEGIN X509 CRL-----([\s\S]*?)-----END X509 CRL-----/g)) {
    const der = Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64');
    const f = tbs(der, 'revocation list');
    // version (v2, optional), signature, issuer, thisUpdate, nextUpdate (optional), revokedCertificates (optional), [0] extensions.
    const i = f[0]?.tag === INTEGER ? 1 : 0;
    const issuer = f[i + 1];
    if (issuer?.tag !== SEQUENCE) throw new RangeError('revocation list: no issuer where expected');
    const issuerHex = hex(der, issuer, true);
    const revoked = f.slice(i + 3).find((t) => t.tag === SEQUENCE);
    for (const entry of revoked === undefined ? [] : children(der, revoked)) {
      const serial = children(der, entry)[0];
      if (serial?.tag !== INTEGER) throw new RangeError('revocation list: an entry without a serial number');
      keys.add(`${issuerHex}/${hex(der, serial)}`);
    }
  }
  return keys;
}
