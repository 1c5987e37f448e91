/** Host names: which are loopback (what the sandbox may reach), and how an origin names a listen address. */
import { isIP } from 'node:net';

/** The host part of an origin for a listen address (a wildcard address is reached on loopback). */
export function originHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return isIP(host) === 6 ? `[${host}]` : host;
}
