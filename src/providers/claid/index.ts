/**
 * The claid provider (seed 001): batch image editing — resizing, background, restorations… —
 * over local files (one synchronous multipart upload each), URL lists (batch jobs, every URL
 * probed first) and storage folders (one batch job each), polled until done; each output's URL
 * (a temporary link, or a bucket URI with a storage destination) goes in the manifest. Every
 * request is paced by core's pacer from claid's RateLimit-* headers (`rateLimitHeaders`).
 */
import { bearerToken } from '../../core/credentials.js';
import type { ProviderModule } from '../../core/provider.js';
import { checkUrls } from './check.js';
import { CLAID_DEFAULT_ENDPOINT, LIMITS } from './contract.js';
import { CLAID_FLAGS, claidFingerprint, claidOptions, type ClaidOptions } from './options.js';
import { planClaid } from './plan.js';
import { claidPolicy } from './policy.js';
import { openClaidRun } from './run.js';

export const claid: ProviderModule<ClaidOptions> = {
  name: 'claid',
  summary: 'batch image edits (resize, background, restorations…): local files one sync upload each, URL lists and storage folders as batch jobs',
  defaultEndpoint: CLAID_DEFAULT_ENDPOINT,
  sandboxPath: '',
  policy: claidPolicy,
  capabilities: { inputs: ['file', 'url', 'storage'], modes: [], rateLimitHeaders: true, batchLimit: LIMITS.maxUrlsPerBatch },
  flags: CLAID_FLAGS,
  options: (values) => claidOptions(values),
  fingerprint: claidFingerprint,
  credentials: (auth, endpoint) => bearerToken('claid', auth, endpoint),
  plan: planClaid,
  check: checkUrls,
  open: openClaidRun,
};
