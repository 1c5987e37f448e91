/**
 * What both submit paths (multipart files, JSON of URLs/Base64) do once the body is read: the
 * batch-level rules, then reserve the id, store the items, register the batch and answer.
 */
import { LIMITS, MESSAGES, STATUS, type SubmitData } from '../../../providers/bach/contract.js';
import type { RequestContext } from '../../kit/context.js';
import type { SandboxCore } from '../../kit/protocol.js';
import type { BachBatch, BachBatches, BachItem } from './batches.js';
import { envelope } from './replies.js';

/** The first batch-level rule `batchId`/`count` break (validation order: reuse, empty, too many). */
export function batchRuleBroken(batches: BachBatches, batchId: string | undefined, count: number): string | undefined {
  if (batchId !== undefined && batches.idTaken(batchId)) return MESSAGES.batchExists(batchId);
  if (count < LIMITS.minFiles) return MESSAGES.emptyList;
  if (count > LIMITS.maxFiles) return MESSAGES.tooMany;
  return undefined;
}

export interface AcceptedSubmit {
  batchId: string | undefined;
  /** Entries submitted (`total_count` of the answer). */
  count: number;
  path: BachBatch['path'];
  /** Commits what was received into items (the id is reserved meanwhile). */
  build(): Promise<BachItem[]>;
  /** Drops whatever temp files are left, whatever happened. */
  cleanup(): Promise<void>;
}

export async function acceptSubmit(ctx: RequestContext, core: SandboxCore, batches: BachBatches, s: AcceptedSubmit): Promise<void> {
  const id = s.batchId ?? batches.newId();
  batches.reserve(id);
  let items: BachItem[];
  try {
    items = await s.build();
  } catch (err) {
    batches.release(id);
    await s.cleanup();
    throw err;
  }
  await s.cleanup();
  await batches.register({ batch_id: id, created_at: core.now(), path: s.path, submitted_count: s.count, items });
  const data: SubmitData = { batch_id: id, total_count: s.count, message: MESSAGES.submitted, status: STATUS.pending };
  return ctx.json(200, envelope(data));
}
