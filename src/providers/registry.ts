/** Providers by name. Each lives in its own folder; adding one is one line here. */
import { usageError } from '../core/errors.js';
import type { Provider } from '../core/provider.js';
import { aihub } from './aihub/index.js';
import { bach } from './bach/index.js';
import { hybrid } from './hybrid/index.js';

const PROVIDERS: Record<string, Provider> = { aihub, bach, hybrid };

export const providerNames = () => Object.keys(PROVIDERS);

export function getProvider(name: string): Provider {
  const p = PROVIDERS[name];
  if (!p) throw usageError(`unknown provider '${name}' (known: ${providerNames().join(', ')})`);
  return p;
}
