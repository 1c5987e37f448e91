/**
 * The blurb provider (seed 004): music-video render batches. Its inputs are SPEC files it reads
 * itself (spec.ts: JSON, JSON lines, CSV + --template), one item per batch; the assets are
 * checked before anything is created (assets.ts); each batch is submitted once and watched to
 * the end, by polling or webhooks (run.ts, wait.ts, receiver.ts). `batchup render` is this
 * provider's command; `batchup upload --provider blurb` runs the same.
 */
import { bearerToken } from '../../core/credentials.js';
import { batchIds, derivedBatchId, planBatch } from '../../core/plan.js';
import type { ProviderModule } from '../../core/provider.js';
import { blurbDeclaration } from './declaration.js';
import { checkAssets } from './assets.js';
import { audioPolicy } from './contract.js';
import { blurbOptions, type BlurbOptions } from './options.js';
import { openBlurbRun } from './run.js';
import { expandSpec, payloadOf } from './spec.js';

export const blurb: ProviderModule<BlurbOptions> = {
  ...blurbDeclaration,
  sandboxPath: '',
  // Validation is the provider's own (expand): this policy is only what core asks every provider for.
  policy: audioPolicy,
  capabilities: { inputs: ['file'], modes: [] },
  options: blurbOptions,
  credentials: (auth, endpoint) => bearerToken('blurb', auth, endpoint),
  expand: expandSpec,
  check: checkAssets,
  // One batch per spec batch: each is its own POST, its own renders and handle.
  plan(req) {
    const ids = batchIds(req.items.length, req.batchId, (i) => derivedBatchId([req.items[i]!], 'render', req.salt));
    return req.items.map((it, i) => {
      const n = (payloadOf(it).body.renders as unknown[]).length;
      const reason = `${payloadOf(it).position} of ${payloadOf(it).spec}: ${n} render${n === 1 ? '' : 's'}`;
      return { ...planBatch([it], { batchId: ids[i]!, mode: 'render', reason }), images: n };
    });
  },
  open: openBlurbRun,
};
