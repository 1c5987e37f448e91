/**
 * The hybrid provider (seed 003): large videos through presigned URLs. One `init` per ≤ 5 files;
 * a file ≤ 150 MiB goes as one streamed presigned PUT, a larger one in chunks; `complete` once
 * every part is acknowledged. See run.ts (a batch and its resume handles) and transfer.ts (one
 * file's bytes). Presigned URLs never get the token: core/http.ts adds it to the API origin only.
 */
import { bearerToken } from '../../core/credentials.js';
import type { ProviderModule } from '../../core/provider.js';
import { LIMITS } from './contract.js';
import { hybridDeclaration } from './declaration.js';
import { hybridOptions, type HybridOptions } from './options.js';
import { planHybrid } from './plan.js';
import { hybridPolicy } from './policy.js';
import { openHybridRun } from './run.js';

export const hybrid: ProviderModule<HybridOptions> = {
  ...hybridDeclaration,
  sandboxPath: '',
  policy: hybridPolicy,
  capabilities: { inputs: ['file'], modes: [], batchLimit: LIMITS.maxFilesPerInit },
  options: hybridOptions,
  fingerprint: (o) => (o.channelId ? `channel=${o.channelId}` : ''),
  credentials: (auth, endpoint) => bearerToken('hybrid', auth, endpoint),
  plan: planHybrid,
  open: openHybridRun,
};
