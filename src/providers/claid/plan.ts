/**
 * claid planning, by kind of input:
 * - local files (mode `upload`): one synchronous multipart edit per file, grouped in plan batches
 *   of ≤ 50 (batchup's checkpoint size: the manifest is rewritten after each group; each file is
 *   journaled as done the moment its edit comes back);
 * - URLs (mode `batch`): `POST /v1/image/edit/batch` with `input: [urls]`, ≤ 100 per batch
 *   (ASSUMED in contract.ts), split evenly;
 * - storage folders (mode `batch`): one batch each (`{source, recursive}`).
 */
import { batchIds, derivedBatchId, planBatch, splitEvenly } from '../../core/plan.js';
import type { BatchPlan, PlanRequest } from '../../core/provider.js';
import type { Item } from '../../core/types.js';
import { LIMITS } from './contract.js';

export function planClaid(req: PlanRequest): BatchPlan[] {
  const files = req.items.filter((it) => it.kind === 'file');
  const urls = req.items.filter((it) => it.kind === 'url');
  const folders = req.items.filter((it) => it.kind === 'storage');
  const perFiles = Math.min(LIMITS.filesPerPlanBatch, req.maxBatchFiles ?? LIMITS.filesPerPlanBatch);
  const perUrls = Math.min(LIMITS.maxUrlsPerBatch, req.maxBatchFiles ?? LIMITS.maxUrlsPerBatch);

  const groups: { mode: 'upload' | 'batch'; reason: string; items: Item[] }[] = [
    ...splitEvenly(files, perFiles).map((items) => ({
      mode: 'upload' as const,
      reason: `${items.length} local file(s): one synchronous POST /v1/image/edit/upload each`,
      items,
    })),
    ...splitEvenly(urls, perUrls).map((items) => ({
      mode: 'batch' as const,
      reason: `${items.length} URL(s) in one batch job (≤ ${perUrls} per batch), polled until done`,
      items,
    })),
    ...folders.map((it) => ({ mode: 'batch' as const, reason: 'a storage folder: one batch job over its images, polled until done', items: [it] })),
  ];
  const ids = batchIds(groups.length, req.batchId, (i) => derivedBatchId(groups[i]!.items, `claid-${groups[i]!.mode}`, req.salt));
  return groups.map((g, i) => planBatch(g.items, { batchId: ids[i]!, mode: g.mode, reason: g.reason }));
}
