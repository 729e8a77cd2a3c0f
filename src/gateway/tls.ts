/**
 * PEM files for TLS: the gateway's certificate and key (`listen.tls`), the certificates and
 * revocation lists it checks clients against, and the certificates a client trusts
 * (`tradeloop run --ca`, `tradeloop ctl --ca`). One reader, so that every command names the
 * file and what is wrong with it in one line.
 * @module
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext, type DetailedPeerCertificate, type PeerCertificate } from 'node:tls';

/** What a PEM file must hold. */
export type PemKind = 'certificate' | 'private key' | 'certificate revocation list';

const MARKERS: Record<PemKind, RegExp> = {
  certificate: /-----BEGIN CERTIFICATE-----/,
  // PKCS#8 ("PRIVATE KEY", "ENCRYPTED PRIVATE KEY"), and the older RSA / EC forms.
  'private key': /-----BEGIN (?:ENCRYPTED |RSA |EC )?PRIVATE KEY-----/,
  'certificate revocation list': /-----BEGIN X509 CRL-----/,
};

const LABELS: Record<PemKind, string> = { certificate: 'CERTIFICATE', 'private key': 'PRIVATE KEY', 'certificate revocation list': 'X509 CRL' };

/**
 * Reads a PEM file and checks that it holds at least one block of the kind asked for.
 * @returns the file's text.
 * @throws Error (one line, naming the file) when it cannot be read or holds no such block.
 */
export function readPemFile(path: string, kind: PemKind): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the ${kind} file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (!MARKERS[kind].test(text)) throw new Error(`${path} holds no PEM ${kind} (expected a "-----BEGIN ${LABELS[kind]}-----" block)`);
  return text;
}

/** A certificate and its private key, PEM. */
export interface TlsIdentity {
  cert: string;
  key: string;
}

/**
 * Reads a certificate and its private key (a gateway's, or a client's for a gateway that asks
 * for one) and checks that they go together.
 * @param what names the pair at the start of every error, e.g. `listen.tls` or `--cert/--key`.
 * @throws Error (one line, `what: …`, naming the file) when either cannot be read, holds no
 *   PEM block of its kind, or the key does not go with the certificate.
 */
export function readTlsIdentity(certFile: string, keyFile: string, what: string): TlsIdentity {
  let id: TlsIdentity;
  try {
    id = { cert: readPemFile(certFile, 'certificate'), key: readPemFile(keyFile, 'private key') };
  } catch (err) {
    throw new Error(`${what}: ${(err as Error).message}`);
  }
  try {
    createSecureContext(id);
  } catch (err) {
    throw new Error(`${what}: the key ${keyFile} and the certificate ${certFile} do not go together (${(err as Error).message})`);
  }
  return id;
}

/** The gateway's TLS material, PEM (`GatewayServerOptions.tls`). */
export interface GatewayTls {
  cert: string;
  key: string;
  /** Certificates a client's certificate must chain to (mutual TLS). */
  clientCa?: string;
  /** Revocation lists of those certificates' issuers. */
  crl?: string;
}

/** Where the gateway's TLS files are (`GatewayConfig.listen.tls`: config `listen.tls`, paths resolved). */
export interface GatewayTlsFiles {
  certFile: string;
  keyFile: string;
  clientCaFile?: string;
  crlFile?: string;
}

/**
 * Reads the gateway's TLS files: its certificate and key (checked to go together), the
 * client CA certificates and their revocation lists (checked to parse).
 * @throws Error (one line, `listen.tls: …`, naming the file) when any cannot be used.
 */
export function readGatewayTls(files: GatewayTlsFiles): GatewayTls {
  const tls: GatewayTls = readTlsIdentity(files.certFile, files.keyFile, 'listen.tls');
  try {
    if (files.clientCaFile !== undefined) tls.clientCa = readPemFile(files.clientCaFile, 'certificate');
    if (files.crlFile !== undefined) tls.crl = readPemFile(files.crlFile, 'certificate revocation list');
  } catch (err) {
    throw new Error(`listen.tls: ${(err as Error).message}`);
  }
  if (tls.crl !== undefined && tls.clientCa === undefined) throw new Error('listen.tls: crlFile needs clientCaFile (revocation lists apply to client certificates)');
  if (tls.crl !== undefined) {
    try {
      createSecureContext({ crl: tls.crl });
    } catch (err) {
      throw new Error(`listen.tls: ${files.crlFile} is not a valid revocation list (${(err as Error).message})`);
    }
  }
  return tls;
}

/**
 * The names a client certificate carries, as `GatewayServerOptions.clientCertNames` matches
 * them: its subject CN(s), then the DNS names of its subjectAltName, without duplicates.
 * @param cert what `TLSSocket.getPeerCertificate()` returns (an empty object when the client sent none).
 */
export function peerCertificateNames(cert: Pick<PeerCertificate, 'subject' | 'subjectaltname'>): string[] {
  const names: string[] = [];
  const cn = (cert.subject as Record<string, string | string[] | undefined> | undefined)?.CN;
  for (const n of Array.isArray(cn) ? cn : cn !== undefined ? [cn] : []) if (!names.includes(n)) names.push(n);
  // "DNS:a.example, IP Address:10.0.0.5, DNS:b.example"; a quoted entry (a name with a comma) is not a DNS name anyone lists.
  for (const part of (cert.subjectaltname ?? '').split(', ')) {
    if (part.startsWith('DNS:')) {
      const n = part.slice(4);
      if (n !== '' && !names.includes(n)) names.push(n);
    }
  }
  return names;
}

/**
 * The certificates a TLS peer presented, leaf first, as `getPeerCertificate(true)` links them
 * (each to its issuer, up to a self-signed one or the end of what was sent).
 */
export function peerCertificateChain(leaf: DetailedPeerCertificate): X509Certificate[] {
  const chain: X509Certificate[] = [];
  const seen = new Set<DetailedPeerCertificate>();
  for (let c: DetailedPeerCertificate | undefined = leaf; c !== undefined && c.raw !== undefined && !seen.has(c); c = c.issuerCertificate) {
    seen.add(c);
    chain.push(new X509Certificate(c.raw));
  }
  return chain;
}

/** Every certificate of a PEM text (a CA bundle), in order. @throws when a block does not parse. */
export function pemCertificates(pem: string): X509Certificate[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((b) => new X509Certificate(b));
}

/**
 * Whether one of `cas` still vouches for a peer's chain (leaf first): a certificate of the
 * chain is one of the CAs, or was issued and signed by one, and every link below it was
 * signed by the next. What a reload of `clientCaFile` asks of the sessions already open (the
 * handshake of a new connection asks OpenSSL).
 */
export function chainTrusted(chain: readonly X509Certificate[], cas: readonly X509Certificate[]): boolean {
  for (let i = 0; i < chain.length; i++) {
    const c = chain[i]!;
    if (cas.some((ca) => ca.fingerprint256 === c.fingerprint256 || (c.checkIssued(ca) && c.verify(ca.publicKey)))) return true;
    const up = chain[i + 1];
    if (up === undefined || !c.checkIssued(up) || !c.verify(up.publicKey)) return false;
  }
  return false;
}
