/**
 * blurb (seed 004, protocols/blurb.md): music-video render batches — `POST`/`GET /v1/batches`,
 * renders walking PENDING → COLLECTING_ASSETS → RENDERING → COMPLETED over `--render-ms`, assets
 * fetched from their URLs and checked, a small real MP4 per render at its `renderUrl`, webhooks
 * when a batch names a `webhookUrl`. Served at the origin. The code loads only when a sandbox starts.
 */
import { integerOption } from '../../kit/options.js';
import { defineProtocol } from '../../kit/protocol.js';
import type { BlurbSandboxOptions, BlurbStats } from './state.js';

export const blurb = defineProtocol<'blurb', BlurbSandboxOptions, BlurbStats>({
  name: 'blurb',
  endpointPath: '',
  summary: 'music-video render batches over asset URLs (render states, webhooks, MP4 per render)',
  options: {
    renderMs: integerOption({
      flag: '--render-ms <ms>',
      description: 'how long a render takes from PENDING to COMPLETED (later renders of a batch a little longer)',
      default: 4_000,
      min: 0,
    }),
  },
  create: async (core, options) => (await import('./protocol.js')).createBlurb(core, options),
});
