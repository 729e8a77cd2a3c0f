/**
 * Token checks for `login` that do not leak through timing: neither how much of a token
 * matched, nor its length, nor whether a strategy name is configured at all.
 * @module
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** SHA-256 of a string's UTF-8 bytes (32 bytes). */
function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/**
 * Compares two secrets in constant time. Both are hashed with SHA-256 first, so the
 * comparison always runs over 32 bytes: `timingSafeEqual` needs equal lengths, and
 * comparing lengths directly would reveal the secret's length.
 */
export function constantTimeEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/**
 * Checks login credentials against the gateway's configured tokens (strategy name →
 * token). The configured tokens are hashed once at construction, so a check hashes only the
 * presented token and its cost does not depend on the configured token's length. An
 * unknown strategy is compared against a fixed dummy digest, so it costs the same as a
 * wrong token.
 */
export class TokenVerifier {
  private readonly digests = new Map<string, Buffer>();
  // A digest no token hashes to in practice; compared against for unknown names.
  private readonly dummy = digest('\u0000tradeloop: no such strategy\u0000');

  /** @param tokens strategy name → token; names are looked up as own keys only (a name like `__proto__` is just unknown). */
  constructor(tokens: Readonly<Record<string, string>> | ReadonlyMap<string, string>) {
    const entries = tokens instanceof Map ? [...tokens.entries()] : Object.entries(tokens as Record<string, string>);
    for (const [name, token] of entries) {
      if (typeof token !== 'string' || token === '') throw new TypeError(`token of strategy '${name}' must be a non-empty string`);
      this.digests.set(name, digest(token));
    }
  }

  /** True when `strategy` is configured and `token` is its token. */
  verify(strategy: string, token: string): boolean {
    const expected = this.digests.get(strategy);
    const ok = timingSafeEqual(expected ?? this.dummy, digest(token));
    return ok && expected !== undefined;
  }

  /** Number of configured strategies. */
  get size(): number {
    return this.digests.size;
  }
}
