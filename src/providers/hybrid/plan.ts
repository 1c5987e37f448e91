/**
 * hybrid planning: local files only, in input order, in groups of at most 5 (one `init` each).
 * Within a group each file goes as one presigned PUT (≤ 150 MiB) or in chunks; the reason says
 * which. There is one upload path, reported as mode `sync` (the files are final once `complete`
 * answers; the record's `processing` status is the server's own business).
 */
import { usageError } from '../../core/errors.js';
import { formatSize } from '../../core/memory.js';
import { batchIds, derivedBatchId, splitEvenly } from '../../core/plan.js';
import type { BatchPlan, PlanRequest } from '../../core/provider.js';
import { LIMITS, isChunkedSize } from './contract.js';

export function planHybrid(req: PlanRequest): BatchPlan[] {
  const urls = req.items.filter((i) => i.kind === 'url');
  if (urls.length) throw usageError(`hybrid uploads local files only; ${urls.length} URL input(s) given (${urls[0]!.source})`);
  if (req.mode === 'async') throw usageError('hybrid has no async mode (use --mode auto or sync)');
  const perInit = Math.max(1, Math.min(LIMITS.maxFilesPerInit, req.maxBatchFiles ?? LIMITS.maxFilesPerInit));
  const groups = splitEvenly(req.items, perInit);
  const ids = batchIds(groups.length, req.batchId, (i) => derivedBatchId(groups[i]!, 'sync'));
  return groups.map((items, i) => {
    const chunked = items.filter((it) => isChunkedSize(it.size ?? 0)).length;
    const single = items.length - chunked;
    const parts = [
      single ? `${single} file(s) ≤ ${formatSize(LIMITS.singleMaxBytes)} as one presigned PUT` : '',
      chunked ? `${chunked} file(s) > ${formatSize(LIMITS.singleMaxBytes)} in ${formatSize(LIMITS.chunkSize)} chunks` : '',
    ].filter(Boolean);
    return {
      batchId: ids[i]!,
      mode: 'sync' as const,
      reason: `one init of ≤ ${perInit} files: ${parts.join(', ')}`,
      files: items.length,
      images: items.length,
      bytes: items.reduce((n, it) => n + (it.size ?? 0), 0),
      sources: items.map((it) => it.source),
      items,
    };
  });
}
