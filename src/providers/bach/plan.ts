/**
 * bach planning. The vendor recommends submit-with-files (sync) below 50 images or 10 ZIPs and the
 * async JSON submit for 50–300; every batch holds at most 300 entries. ZIPs only go through the
 * sync endpoint (the async body takes images), URLs only through the async one.
 */
import { batchIds, derivedBatchId, planBatch, splitEvenly } from '../../core/plan.js';
import type { BatchPlan, PlanRequest } from '../../core/provider.js';
import type { Item } from '../../core/types.js';
import { LIMITS } from './contract.js';

const imagesOf = (it: Item) => (it.format === 'zip' ? (it.zipEntries?.length ?? 0) : 1);

export function planBach(req: PlanRequest): BatchPlan[] {
  const perBatch = Math.min(LIMITS.maxFiles, req.maxBatchFiles ?? LIMITS.maxFiles);
  const zips = req.items.filter((i) => i.format === 'zip');
  const urls = req.items.filter((i) => i.kind === 'url');
  const images = req.items.filter((i) => i.kind === 'file' && i.format !== 'zip');
  const imageCount = images.length + zips.reduce((n, z) => n + imagesOf(z), 0);

  const groups: { mode: 'sync' | 'async'; reason: string; items: Item[] }[] = [];
  // A window of a larger run (req.partial) is never small: the run as a whole is what the vendor's advice is about.
  const small = !req.partial && imageCount < LIMITS.syncMaxImages && zips.length <= LIMITS.syncMaxZips && !urls.length;

  if (req.mode === 'auto' && small) {
    const all = [...images, ...zips];
    const how = all.length > perBatch ? `multipart submit-with-files, ≤ ${perBatch} per batch (--batch-size)` : 'one multipart submit-with-files';
    const reason = `${imageCount} image(s) < ${LIMITS.syncMaxImages} and ${zips.length} ZIP(s) ≤ ${LIMITS.syncMaxZips}: ${how}`;
    for (const items of splitEvenly(all, perBatch)) groups.push({ mode: 'sync', reason, items });
  } else {
    const syncFiles = req.mode === 'sync' ? images : [];
    const asyncFiles = req.mode === 'sync' ? urls : [...images, ...urls];
    for (const items of splitEvenly(syncFiles, perBatch)) {
      groups.push({ mode: 'sync', reason: '--mode sync', items });
    }
    const asyncWhy =
      req.mode === 'async'
        ? '--mode async'
        : req.mode === 'sync'
          ? 'URLs go through the async submit only'
          : urls.length && imageCount < LIMITS.syncMaxImages
            ? 'URL inputs need the async submit'
            : `${imageCount} images ≥ ${LIMITS.syncMaxImages}: async submit (Base64/URLs), ≤ ${perBatch} per batch`;
    for (const items of splitEvenly(asyncFiles, perBatch)) groups.push({ mode: 'async', reason: asyncWhy, items });
    for (const items of splitEvenly(zips, LIMITS.syncMaxZips)) {
      groups.push({ mode: 'sync', reason: 'ZIP archives go through submit-with-files, ≤ 10 per batch', items });
    }
  }

  const ids = batchIds(groups.length, req.batchId, (i) => derivedBatchId(groups[i]!.items, groups[i]!.mode, req.salt));
  return groups.map((g, i) => planBatch(g.items, { batchId: ids[i]!, mode: g.mode, reason: g.reason }));
}
