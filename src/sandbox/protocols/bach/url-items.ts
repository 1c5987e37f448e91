/**
 * bach's URL items: fetched in the background after the submit was answered (a few at a time),
 * each stored or failed with the contract's message. Fetching itself is the kit's (http(s) only,
 * allowed hosts, redirects, size cap).
 */
import { LIMITS, MESSAGES } from '../../../providers/bach/contract.js';
import type { SandboxCore } from '../../kit/protocol.js';
import { pickExt, type BachBatch } from './batches.js';

/** A URL download is counted (for the size message) up to this many bytes, then cut off. */
const MAX_URL_COUNT_BYTES = 2 * 1024 * 1024 * 1024;
const URL_FETCH_CONCURRENCY = 4;

export async function fetchUrlItems(core: SandboxCore, batch: BachBatch): Promise<void> {
  const pending = batch.items.filter((it) => !it.done);
  let next = 0;
  const worker = async () => {
    while (next < pending.length && !core.signal.aborted) {
      const it = pending[next++]!;
      const r = await core.fetch.toStore(it.source_url ?? '', { maxBytes: LIMITS.maxFileSize, countUpTo: MAX_URL_COUNT_BYTES });
      if (!r.ok && r.aborted && core.signal.aborted) return; // shutting down: fetched again at the next start
      if (r.ok) {
        const { sha256, size } = await core.store.commit(r.ing);
        it.sha256 = sha256;
        it.size = size;
        it.ext = pickExt(it.image_name, r.ing.head, it.source_url, r.contentType);
        core.stats.receipt(sha256);
      } else {
        it.error_message = r.reason === 'too-large' ? MESSAGES.urlTooLarge(r.size) : MESSAGES.urlFailed;
      }
      it.done = true;
    }
  };
  await Promise.all(Array.from({ length: Math.min(URL_FETCH_CONCURRENCY, pending.length) }, worker));
}
