/**
 * bach's routes over its state (batches.ts): the two submit paths and the status poll. Every
 * limit and message comes from the shared contract (src/providers/bach/contract.ts).
 */
import { CODES, MESSAGES } from '../../../providers/bach/contract.js';
import type { RequestContext } from '../../kit/context.js';
import type { Protocol, SandboxCore } from '../../kit/protocol.js';
import { BachBatches } from './batches.js';
import { BACH_BASE } from './paths.js';
import { envelope, unauthorized } from './replies.js';
import { submitWithFiles } from './submit-files.js';
import { submitJson } from './submit-json.js';
import { fetchUrlItems } from './url-items.js';

export async function createBach(core: SandboxCore): Promise<Protocol> {
  const batches = await BachBatches.open(core, (batch) => fetchUrlItems(core, batch));

  async function status(ctx: RequestContext): Promise<void> {
    if (!(await ctx.authorized())) return unauthorized(ctx);
    const batch = batches.get(ctx.params.batch_id!);
    if (!batch) return ctx.json(404, { code: CODES.batchNotFound, message: MESSAGES.batchNotFound });
    return ctx.json(200, envelope(batches.view(batch)));
  }

  return {
    routes: [
      {
        method: 'POST',
        path: `${BACH_BASE}/batch-upload/submit-with-files`,
        name: 'bach.submit-with-files',
        faults: true,
        handle: submitWithFiles(core, batches),
      },
      { method: 'POST', path: `${BACH_BASE}/batch-upload/submit`, name: 'bach.submit', faults: true, handle: submitJson(core, batches) },
      { method: 'GET', path: `${BACH_BASE}/batch-upload/status/:batch_id`, name: 'bach.status', faults: true, handle: status },
    ],
    errorBody: (status, message) => ({ code: status, message }),
    batchCount: () => batches.size,
    inspectBatch: (id) => batches.inspect(id),
    close: () => batches.close(),
  };
}
