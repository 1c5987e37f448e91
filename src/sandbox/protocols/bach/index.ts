/**
 * bach (seed 000, protocols/bach.md): images (and ZIPs of images) → CDN URLs, through a sync
 * multipart submit or an async JSON submit of URLs / Base64, then a status poll.
 *
 * This is the declaration the server and `batchup serve` read; the protocol's code loads only
 * when a sandbox starts (./protocol.ts).
 */
import { defineProtocol } from '../../kit/protocol.js';
import { BACH_BASE } from './paths.js';

export const bach = defineProtocol({
  name: 'bach',
  endpointPath: BACH_BASE,
  summary: 'images and ZIPs → CDN URLs (sync multipart, async JSON, status)',
  // Its one knob, the processing time per image, is the sandbox-wide job pace (--process-ms).
  options: {},
  create: async (core) => (await import('./protocol.js')).createBach(core),
});
