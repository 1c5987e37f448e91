/**
 * bach auth: a ready bearer token, or an AccessKey/SecretKey pair from which we mint an HS256 JWT
 * (iss = AccessKey, nbf = now − 5 s). We mint short-lived tokens (30 min) and renew them before
 * they expire, rather than the vendor's 10-day maximum, so a leaked token is worth little.
 */
import { credentialsFor } from '../../core/credentials.js';
import { configError } from '../../core/errors.js';
import type { Credentials } from '../../core/http.js';
import type { AuthOptions } from '../../core/options.js';

const LIFETIME_S = 30 * 60;
const RENEW_BEFORE_S = 5 * 60;

export class BachAuth {
  private cached?: { token: string; exp: number };

  constructor(
    private readonly auth: AuthOptions,
    private readonly now: () => number = Date.now,
  ) {
    if (auth.token || (auth.accessKey && auth.secretKey)) return;
    if (auth.accessKey || auth.secretKey) {
      throw configError('bach key pair is incomplete: both BATCHUP_ACCESS_KEY and BATCHUP_SECRET_KEY are needed');
    }
    throw configError(
      'bach needs credentials: set BATCHUP_TOKEN (or --token-file, or `batchup config set token -`), ' + 'or BATCHUP_ACCESS_KEY and BATCHUP_SECRET_KEY',
    );
  }

  async header(): Promise<string> {
    if (this.auth.token) return `Bearer ${this.auth.token}`;
    const nowS = Math.floor(this.now() / 1000);
    if (!this.cached || this.cached.exp - RENEW_BEFORE_S <= nowS) {
      const exp = nowS + LIFETIME_S;
      const { SignJWT } = await import('jose'); // only key-pair users pay for loading it
      const token = await new SignJWT({})
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setIssuer(this.auth.accessKey!)
        .setNotBefore(nowS - 5)
        .setExpirationTime(exp)
        .sign(new TextEncoder().encode(this.auth.secretKey!));
      this.cached = { token, exp };
    }
    return `Bearer ${this.cached.token}`;
  }
}

/** bach's credentials for `endpoint`: the token, or JWTs minted from the key pair. */
export const bachCredentials = (auth: AuthOptions, endpoint: string, now: () => number): Credentials => {
  const a = new BachAuth(auth, now);
  return credentialsFor(endpoint, () => a.header());
};
