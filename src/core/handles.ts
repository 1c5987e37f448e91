/**
 * Jobs whose id the server assigns (a claid batch, a blurb render batch): the handle is journaled
 * before the job is submitted and again once its id is known, so a rerun after a crash adopts
 * the job (polls it) instead of paying for it twice. What rclone and tus do with upload URLs.
 *
 * The one window no client can close alone is between the request and its answer: the server
 * may have created the job, and there is no way to find it. A rerun that finds a handle without
 * an id does what the provider declares: `resubmit` (the job is idempotent or cheap) or `fail`
 * (the inputs fail with UNKNOWN_OUTCOME, naming the handle; `--force` submits again).
 */
import { BatchupError } from './errors.js';
import type { SessionState } from './provider.js';

type Handle = { at: number; id?: string };

export interface SubmitOnce {
  state: SessionState;
  /** Content fingerprint of the job (its inputs and the provider's parameters). */
  key: string;
  now: () => number;
  /** What a rerun does when a dead run's submission never got its answer. */
  lostAnswer: 'resubmit' | 'fail';
  /** --force: submit again whatever the journal says. */
  force?: boolean;
  /** Drop the handle once this batch's results are journaled. */
  untilBatchDone?: string;
  submit(): Promise<string>;
}

/** The job's id: adopted from the journal, or from a fresh submission. */
export async function submitOnce(o: SubmitOnce): Promise<{ id: string; adopted: boolean }> {
  const known = o.force ? undefined : o.state.get<Handle>(o.key);
  if (known?.id) return { id: known.id, adopted: true };
  if (known && o.lostAnswer === 'fail') {
    throw new BatchupError(
      'UNKNOWN_OUTCOME',
      `an interrupted run submitted this job at ${new Date(known.at).toISOString()} and never got the answer: the server may have it, and it cannot be looked up (to submit it again anyway, use --force)`,
      { retryable: false },
    );
  }
  const keep = o.untilBatchDone ? { untilBatchDone: o.untilBatchDone } : undefined;
  o.state.put(o.key, { at: o.now() } satisfies Handle, keep);
  let id: string;
  try {
    id = await o.submit();
  } catch (err) {
    // Refused outright (a 4xx): nothing exists on the server, no handle either.
    if (err instanceof BatchupError && !err.retryable && err.status !== undefined && err.status < 500 && err.status !== 408) o.state.put(o.key, null);
    throw err;
  }
  o.state.put(o.key, { at: o.now(), id } satisfies Handle, keep);
  return { id, adopted: false };
}
