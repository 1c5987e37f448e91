/** Providers by name. Each lives in its own folder; adding one is one line here. */
import { usageError } from '../core/errors.js';
import type { AnyProvider } from '../core/provider.js';
import { aihub } from './aihub/index.js';
import { bach } from './bach/index.js';
import { blurb } from './blurb/index.js';
import { claid } from './claid/index.js';
import { hybrid } from './hybrid/index.js';

const PROVIDERS: readonly AnyProvider[] = [bach, hybrid, aihub, claid, blurb];

export const providers = (): readonly AnyProvider[] => PROVIDERS;

export const providerNames = () => PROVIDERS.map((p) => p.name);

export function getProvider(name: string): AnyProvider {
  const p = PROVIDERS.find((x) => x.name === name);
  if (!p) throw usageError(`unknown provider '${name}' (known: ${providerNames().join(', ')})`);
  return p;
}
