/**
 * Bearer-token checks shared by every protocol. `Authorization: Bearer <token>` with exactly one
 * space. With a key pair the token must be an HS256 JWT signed with the secret, `iss` = access
 * key, valid `nbf`/`exp`; with a fixed token it must equal it; with neither any non-empty token
 * passes.
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import { jwtVerify } from 'jose';

export interface AuthOptions {
  accessKey?: string;
  secretKey?: string;
  token?: string;
}

export type AuthCheck = (authorization: string | undefined) => Promise<boolean>;

const BEARER_RE = /^Bearer (\S+)$/;

/** The token of a well-formed `Bearer` header, or undefined. */
export function bearerToken(authorization: string | undefined): string | undefined {
  if (typeof authorization !== 'string') return undefined;
  return BEARER_RE.exec(authorization)?.[1];
}

export function createAuthCheck(opts: AuthOptions): AuthCheck {
  const { accessKey, secretKey, token } = opts;
  if ((accessKey === undefined) !== (secretKey === undefined)) {
    throw new RangeError('sandbox auth: accessKey and secretKey must be given together');
  }
  const secret = secretKey !== undefined ? new TextEncoder().encode(secretKey) : undefined;
  const tokenDigest = token !== undefined ? sha(token) : undefined;

  return async (authorization) => {
    const presented = bearerToken(authorization);
    if (!presented) return false;
    if (secret === undefined && tokenDigest === undefined) return true;
    if (tokenDigest !== undefined && timingSafeEqual(sha(presented), tokenDigest)) return true;
    if (secret !== undefined) {
      try {
        await jwtVerify(presented, secret, {
          algorithms: ['HS256'],
          issuer: accessKey,
          requiredClaims: ['iss', 'exp', 'nbf'],
        });
        return true;
      } catch {
        return false;
      }
    }
    return false;
  };
}

function sha(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
