/** Credentials for the API's origin (core/http.ts adds them to that origin's requests only). */
import { configError } from './errors.js';
import type { Credentials } from './http.js';
import type { AuthOptions } from './options.js';

/** Credentials whose Authorization value `header()` makes, for the origin of `endpoint`. */
export function credentialsFor(endpoint: string, header: () => Promise<string>): Credentials {
  let origin: string;
  try {
    origin = new URL(endpoint).origin;
  } catch {
    throw configError(`the endpoint "${endpoint}" is not a URL`);
  }
  return { origin, header };
}

/** A bearer token, which the provider cannot work without. */
export function bearerToken(provider: string, auth: AuthOptions, endpoint: string): Credentials {
  const token = auth.token;
  if (!token) {
    throw configError(`${provider} needs an API token: set BATCHUP_TOKEN, run \`batchup config set token -\`, or pass --token-file FILE`);
  }
  return credentialsFor(endpoint, async () => `Bearer ${token}`);
}
