/** hybrid's own options (`--channel-id`), and the --max-memory it needs. */
import { usageError } from '../../core/errors.js';
import { formatSize } from '../../core/memory.js';
import type { FlagValues } from '../../core/provider.js';
import { LIMITS } from './contract.js';

export interface HybridOptions {
  channelId?: string;
}

export function hybridOptions(values: FlagValues, run: { maxMemory?: number }): HybridOptions {
  // Chunks are 5 MiB (unless the server names another size): a smaller budget can never send one.
  if (run.maxMemory !== undefined && run.maxMemory < LIMITS.chunkSize) {
    throw usageError(`--max-memory ${formatSize(run.maxMemory)} is below the hybrid chunk size (${formatSize(LIMITS.chunkSize)}): raise it`);
  }
  const channel = typeof values.channelId === 'string' ? values.channelId.trim() : '';
  return channel ? { channelId: channel } : {};
}
