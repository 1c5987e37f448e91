/**
 * claid's routes over its state (state.ts), under both API prefixes (`/v1` and `/v1-beta1`):
 * the upload edit (upload.ts), batches and storages (batch-routes.ts). Paths, limits, statuses,
 * messages and the resizing rules come from the shared contract (src/providers/claid/contract.ts).
 * Only these routes are rate limited. A test hook cancels a batch (`POST /_sandbox/claid/batches/:id/cancel`).
 */
import { API_PREFIXES } from '../../../providers/claid/contract.js';
import type { Protocol, Route, SandboxCore } from '../../kit/protocol.js';
import { batchRoutes } from './batch-routes.js';
import { faultBody } from './gate.js';
import { ClaidState } from './state.js';
import type { ClaidOptions, ClaidStats } from './types.js';
import { uploadRoute } from './upload.js';

export async function createClaid(core: SandboxCore, opts: ClaidOptions): Promise<Protocol<ClaidStats>> {
  const st = await ClaidState.open(core, opts);
  const b = batchRoutes(st);
  const upload = uploadRoute(st);
  const api = (p: string): Route[] => [
    { method: 'POST', path: `${p}/image/edit/upload`, name: 'claid.upload', faults: true, handle: upload },
    { method: 'POST', path: `${p}/image/edit/batch`, name: 'claid.batch', faults: true, handle: b.create },
    { method: 'GET', path: `${p}/image/edit/batch/:id`, name: 'claid.batch.get', faults: true, handle: b.get },
    { method: 'GET', path: `${p}/storage/storages`, name: 'claid.storages', faults: true, handle: b.storages },
  ];
  return {
    routes: [
      ...API_PREFIXES.flatMap(api),
      {
        method: 'POST',
        path: '/_sandbox/claid/batches/:id/cancel',
        name: 'sandbox.claid.cancel',
        counted: false,
        handle: async (ctx) => ((await st.cancel(ctx.params.id!)) ? ctx.json(200, { cancelled: true }) : ctx.json(409, { cancelled: false })),
      },
    ],
    errorBody: faultBody,
    batchCount: () => st.size,
    stats: () => ({ ...st.stats }),
    inspectBatch: (id) => st.inspect(id),
    close: () => st.close(),
  };
}
