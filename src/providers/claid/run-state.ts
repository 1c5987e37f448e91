/** What the batches of one claid run share. */
import type { BatchupError } from '../../core/errors.js';
import type { StorageInfo } from './contract.js';

export interface RunState {
  /** The first error after which nothing more may be sent (AUTH: the key is refused; QUOTA: no API calls left). */
  stop?: BatchupError;
  /** The connected storages, asked once per run and only when a storage folder is an input (undefined: the key may not list them). */
  storages?: Promise<StorageInfo[] | undefined>;
}

/** Remember an error that must stop every further request of the run. */
export function noteStop(run: RunState, err: BatchupError): void {
  if (err.code === 'AUTH' || err.code === 'QUOTA') run.stop ??= err;
}
