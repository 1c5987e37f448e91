/**
 * hybrid planning: local files in input order, in groups of at most 5 (one `init` each). Within a
 * group each file goes as one presigned PUT (≤ 150 MiB, mode `put`) or in chunks (`chunked`);
 * the batch's mode names which (`put+chunked` for a mix).
 */
import { formatSize } from '../../core/memory.js';
import { batchIds, derivedBatchId, planBatch, splitEvenly } from '../../core/plan.js';
import type { BatchPlan, PlanRequest } from '../../core/provider.js';
import type { Item } from '../../core/types.js';
import { LIMITS, isChunkedSize } from './contract.js';

/** The path one file takes. */
export const fileMode = (it: Pick<Item, 'size'>) => (isChunkedSize(it.size ?? 0) ? 'chunked' : 'put');

export function planHybrid(req: PlanRequest): BatchPlan[] {
  const perInit = Math.max(1, Math.min(LIMITS.maxFilesPerInit, req.maxBatchFiles ?? LIMITS.maxFilesPerInit));
  const groups = splitEvenly(req.items, perInit);
  const ids = batchIds(groups.length, req.batchId, (i) => derivedBatchId(groups[i]!, 'hybrid', req.salt));
  return groups.map((items, i) => {
    const chunked = items.filter((it) => fileMode(it) === 'chunked').length;
    const single = items.length - chunked;
    const parts = [
      single ? `${single} file(s) ≤ ${formatSize(LIMITS.singleMaxBytes)} as one presigned PUT` : '',
      chunked ? `${chunked} file(s) > ${formatSize(LIMITS.singleMaxBytes)} in ${formatSize(LIMITS.chunkSize)} chunks` : '',
    ].filter(Boolean);
    const mode = [single ? 'put' : '', chunked ? 'chunked' : ''].filter(Boolean).join('+');
    return planBatch(items, { batchId: ids[i]!, mode, reason: `one init of ≤ ${perInit} files: ${parts.join(', ')}` });
  });
}
