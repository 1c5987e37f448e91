/**
 * Providers by name. Each lives in its own folder; adding one is one line here. The declarations
 * (names, flags) are all the command line needs to parse an upload; a provider's module (its
 * protocol, the HTTP client, validation…) is loaded only when it is used.
 */
import { usageError } from '../core/errors.js';
import type { AnyProvider, ProviderDeclaration } from '../core/provider.js';
import { aihubDeclaration } from './aihub/declaration.js';
import { bachDeclaration } from './bach/declaration.js';
import { blurbDeclaration } from './blurb/declaration.js';
import { claidDeclaration } from './claid/declaration.js';
import { hybridDeclaration } from './hybrid/declaration.js';

interface Entry extends ProviderDeclaration {
  load(): Promise<AnyProvider>;
}

const PROVIDERS: readonly Entry[] = [
  { ...bachDeclaration, load: async () => (await import('./bach/index.js')).bach },
  { ...hybridDeclaration, load: async () => (await import('./hybrid/index.js')).hybrid },
  { ...aihubDeclaration, load: async () => (await import('./aihub/index.js')).aihub },
  { ...claidDeclaration, load: async () => (await import('./claid/index.js')).claid },
  { ...blurbDeclaration, load: async () => (await import('./blurb/index.js')).blurb },
];

export const providerDeclarations = (): readonly ProviderDeclaration[] => PROVIDERS;

export const providerNames = () => PROVIDERS.map((p) => p.name);

export async function loadProvider(name: string): Promise<AnyProvider> {
  const p = PROVIDERS.find((x) => x.name === name);
  if (!p) throw usageError(`unknown provider '${name}' (known: ${providerNames().join(', ')})`);
  return p.load();
}

/** Every provider module (their management commands, the full help). */
export const loadProviders = (): Promise<readonly AnyProvider[]> => Promise.all(PROVIDERS.map((p) => p.load()));
