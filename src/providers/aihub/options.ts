/**
 * aihub's own flags, their typed options (checked before a file is read), and the inputs it
 * refuses that validation cannot see (remote names).
 */
import { usageError } from '../../core/errors.js';
import type { FlagSpec, FlagValues, Screened } from '../../core/provider.js';
import type { Item } from '../../core/types.js';
import { LIMITS, checkIbContext, nameProblem } from './contract.js';

export const AIHUB_FLAGS: FlagSpec[] = [
  { flags: '--batch-name <name>', description: 'name of the batch to create (≤ 255 characters)', key: 'batchName', env: 'BATCHUP_AIHUB_BATCH_NAME' },
  { flags: '--workspace <name>', description: 'workspace to create the batch in', key: 'workspace', env: 'BATCHUP_AIHUB_WORKSPACE' },
  { flags: '--ib-context <id>', description: 'IB-Context header (organization or user id) on every request', key: 'ibContext', env: 'BATCHUP_IB_CONTEXT' },
  { flags: '--run-app <app>', description: 'after the upload, run this app (name, or id; id:/name: force either) on the batch', key: 'runApp' },
  { flags: '--results <file>', description: 'write the app run results to this JSON file', key: 'resultsFile' },
];

export interface AihubOptions {
  batchName?: string;
  /** An existing batch (--batch-id), instead of a new one by name. */
  batchId?: string;
  workspace?: string;
  ibContext?: string;
  runApp?: string;
  resultsFile?: string;
}

const text = (v: FlagValues[string]) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);

/** Typed options; every check that needs no I/O. Throws USAGE errors. */
export function aihubOptions(values: FlagValues, run: { batchId?: string }): AihubOptions {
  const o: AihubOptions = {
    batchName: text(values.batchName),
    batchId: run.batchId,
    workspace: text(values.workspace),
    ibContext: text(values.ibContext),
    runApp: text(values.runApp),
    resultsFile: text(values.resultsFile),
  };
  if (!o.batchId && !o.batchName) throw usageError('aihub needs --batch-name NAME (a new batch) or --batch-id ID (an existing batch)');
  if (o.batchName && [...o.batchName].length > LIMITS.maxNameLength) {
    throw usageError(`--batch-name is ${[...o.batchName].length} characters long; aihub allows at most ${LIMITS.maxNameLength}`);
  }
  if (o.batchId !== undefined && !/^\d+$/.test(o.batchId)) throw usageError(`--batch-id for aihub is a batch number, got "${o.batchId}"`);
  if (o.resultsFile && !o.runApp) throw usageError('--results needs --run-app');
  if (o.ibContext !== undefined) checkIbContext(o.ibContext, '--ib-context');
  return o;
}

/** The batch the inputs go to: a different one is a different result. */
export const aihubFingerprint = (o: AihubOptions) => (o.batchId ? `batch=${o.batchId}` : `name=${o.workspace ?? ''}/${o.batchName ?? ''}`);

/**
 * Remote names that nameProblem() refuses, and a remote name already used by an earlier input
 * (scan order) — in one batch the later PUT would replace the earlier file. Pure.
 */
export function screenItems(items: readonly Item[]): Screened[] {
  const out: Screened[] = [];
  const byName = new Map<string, Item>();
  for (const it of [...items].sort((a, b) => a.order - b.order)) {
    const problem = nameProblem(it.name);
    if (problem) {
      out.push({ item: it, rule: 'bad-name', detail: `remote name '${it.name}' cannot be used: ${problem}` });
      continue;
    }
    const first = byName.get(it.name);
    if (first) {
      out.push({
        item: it,
        rule: 'duplicate-name',
        detail: `remote name '${it.name}' is already used by ${first.source} in this batch (use --name-template, e.g. '{parent}-{name}')`,
      });
      continue;
    }
    byName.set(it.name, it);
  }
  return out;
}
