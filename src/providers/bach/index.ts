/**
 * The bach provider (seed 000): images and ZIPs of images → CDN URLs. Local files go in one
 * multipart `submit-with-files` or as Base64 in the async JSON `submit`; URLs always async. See
 * run.ts for one batch's lifecycle and plan.ts for how batches are formed.
 */
import type { ProviderModule } from '../../core/provider.js';
import { bachDeclaration } from './declaration.js';
import { bachCredentials } from './auth.js';
import { LIMITS } from './contract.js';
import { planBach } from './plan.js';
import { bachPolicy } from './policy.js';
import { openBachRun } from './run.js';

export const bach: ProviderModule<Record<string, never>> = {
  ...bachDeclaration,
  sandboxPath: '/api/vdr',
  policy: bachPolicy,
  capabilities: { inputs: ['file', 'url'], modes: ['sync', 'async'], batchLimit: LIMITS.maxFiles },
  options: () => ({}),
  credentials: bachCredentials,
  plan: planBach,
  open: openBachRun,
};
