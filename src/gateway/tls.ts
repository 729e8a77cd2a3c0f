/**
 * PEM files for TLS: the gateway's certificate and key (`listen.tls`), and the certificates
 * a client trusts (`tradeloop run --ca`, `tradeloop ctl --ca`). One reader, so that every
 * command names the file and what is wrong with it in one line.
 * @module
 */
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';

/** What a PEM file must hold. */
export type PemKind = 'certificate' | 'private key';

const MARKERS: Record<PemKind, RegExp> = {
  certificate: /-----BEGIN CERTIFICATE-----/,
  // PKCS#8 ("PRIVATE KEY", "ENCRYPTED PRIVATE KEY"), and the older RSA / EC forms.
  'private key': /-----BEGIN (?:ENCRYPTED |RSA |EC )?PRIVATE KEY-----/,
};

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
  if (!MARKERS[kind].test(text)) throw new Error(`${path} holds no PEM ${kind} (expected a "-----BEGIN ${kind === 'certificate' ? 'CERTIFICATE' : 'PRIVATE KEY'}-----" block)`);
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

