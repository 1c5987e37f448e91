/** aihub planning: one upload run is one AI Hub batch, whatever --batch-size says. */
import { derivedBatchId, planBatch } from '../../core/plan.js';
import type { BatchPlan, PlanRequest } from '../../core/provider.js';
import { isMultipart } from './upload.js';

export function planAihub(req: PlanRequest): BatchPlan[] {
  if (!req.items.length) return [];
  const multi = req.items.filter(isMultipart).length;
  const put = req.items.length - multi;
  const how = `${put} PUT (≤ 10 MiB), ${multi} multipart session${multi === 1 ? '' : 's'}`;
  const mode = [put ? 'put' : '', multi ? 'multipart' : ''].filter(Boolean).join('+');
  return [
    planBatch(req.items, {
      batchId: req.batchId ?? derivedBatchId(req.items, 'aihub', req.salt),
      mode,
      reason: `${req.batchId ? `into existing batch ${req.batchId}` : 'into a new batch'}: ${how}`,
    }),
  ];
}
