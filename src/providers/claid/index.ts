/**
 * The claid provider (seed 001): batch image editing — resizing, background, restorations… —
 * over local files (one synchronous multipart upload each), URL lists (batch jobs, every URL
 * probed first) and storage folders (one batch job each), polled until done; each output's URL
 * (a temporary link, or a bucket URI with a storage destination) goes in the manifest. Every
 * request is paced by core's pacer from claid's RateLimit-* headers (`rateLimitHeaders`).
 */
import { bearerToken } from '../../core/credentials.js';
import type { ProviderModule } from '../../core/provider.js';
import { claidDeclaration } from './declaration.js';
import { checkUrls } from './check.js';
import { LIMITS } from './contract.js';
import { claidFingerprint, claidOptions, type ClaidOptions } from './options.js';
import { planClaid } from './plan.js';
import { claidPolicy } from './policy.js';
import { openClaidRun } from './run.js';

export const claid: ProviderModule<ClaidOptions> = {
  ...claidDeclaration,
  sandboxPath: '',
  policy: claidPolicy,
  capabilities: { inputs: ['file', 'url', 'storage'], modes: [], rateLimitHeaders: true, batchLimit: LIMITS.maxUrlsPerBatch },
  options: (values) => claidOptions(values),
  fingerprint: claidFingerprint,
  credentials: (auth, endpoint) => bearerToken('claid', auth, endpoint),
  plan: planClaid,
  check: checkUrls,
  open: openClaidRun,
};
