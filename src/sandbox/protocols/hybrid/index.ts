/**
 * hybrid (seed 003, protocols/hybrid.md): large videos through presigned part PUTs — init,
 * progress, retry of failed chunks, verify, complete. Served at the origin (its paths start
 * `/api/v1/videos/batch`).
 *
 * Its settings: the lifetime of presigned URLs (tests make them expire) and faults of its own for
 * part PUTs (a sequence apart from the API faults). The code loads only when a sandbox starts.
 */
import { LIMITS } from '../../../providers/hybrid/contract.js';
import { faultKindsOption, numberOption } from '../../kit/options.js';
import { defineProtocol } from '../../kit/protocol.js';
import type { HybridOptions, HybridStats } from './types.js';

export type { HybridOptions, HybridStats };

export const hybrid = defineProtocol<'hybrid', HybridOptions, HybridStats>({
  name: 'hybrid',
  endpointPath: '',
  summary: 'large videos over presigned part PUTs (progress, retry, complete)',
  options: {
    presignTtlSec: numberOption({
      flag: '--presign-ttl <seconds>',
      description: 'lifetime of presigned URLs',
      default: LIMITS.presignTtlSec,
      max: 7 * 86_400,
    }),
    partFaultRate: numberOption({
      flag: '--part-fault-rate <r>',
      description: 'fraction of presigned part PUTs that fail (0..1)',
      default: 0,
      allowZero: true,
      max: 1,
    }),
    partFaultKinds: faultKindsOption({
      flag: '--part-faults <kinds>',
      description: 'comma list for part PUTs: cut (the body breaks off halfway) or kinds of --faults; rate 0.1 unless given',
      default: ['cut'],
      // Kinds without a rate would inject nothing: `--part-faults reset` alone means 10 %.
      implies: { partFaultRate: 0.1 },
    }),
  },
  injectsFaults: (o) => (o.partFaultRate ?? 0) > 0,
  describeFaults: (o) => `part rate ${o.partFaultRate}, part kinds ${o.partFaultKinds.join(',')}`,
  create: async (core, options) => (await import('./protocol.js')).createHybrid(core, options),
});
