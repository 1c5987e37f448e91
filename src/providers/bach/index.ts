/**
 * The bach provider (seed 000): images and ZIPs of images → CDN URLs. Local files go in one
 * multipart `submit-with-files` or as Base64 in the async JSON `submit`; URLs always async. See
 * run.ts for one batch's lifecycle and plan.ts for how batches are formed.
 */
import type { ProviderModule } from '../../core/provider.js';
import { bachCredentials } from './auth.js';
import { BACH_DEFAULT_ENDPOINT, LIMITS } from './contract.js';
import { planBach } from './plan.js';
import { bachPolicy } from './policy.js';
import { openBachRun } from './run.js';

export const bach: ProviderModule<Record<string, never>> = {
  name: 'bach',
  summary: 'images and ZIPs of images → CDN URLs (sync multipart or async JSON, then status polling)',
  defaultEndpoint: BACH_DEFAULT_ENDPOINT,
  sandboxPath: '/api/vdr',
  policy: bachPolicy,
  capabilities: { inputs: ['file', 'url'], modes: ['sync', 'async'], batchLimit: LIMITS.maxFiles },
  flags: [],
  options: () => ({}),
  credentials: bachCredentials,
  plan: planBach,
  open: openBachRun,
};
