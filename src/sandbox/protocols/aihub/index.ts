/**
 * aihub (seed 002, protocols/aihub.md): named batches of files for AI Hub apps — batches, file
 * PUTs, multipart sessions, delete jobs and app runs, under `/api/v2/…`.
 *
 * Its settings (part size, page sizes, the pace of delete jobs) default to the contract's SANDBOX
 * block. The code loads only when a sandbox starts.
 */
import { LIMITS, SANDBOX } from '../../../providers/aihub/contract.js';
import { integerOption } from '../../kit/options.js';
import { defineProtocol } from '../../kit/protocol.js';
import { AIHUB_ROOT } from './paths.js';
import type { AihubOptions, AihubStats } from './types.js';

export type { AihubOptions, AihubStats };

export const aihub = defineProtocol<'aihub', AihubOptions, AihubStats>({
  name: 'aihub',
  endpointPath: AIHUB_ROOT,
  summary: 'batches of files, multipart sessions, delete jobs, app runs',
  options: {
    partSize: integerOption({ flag: '--aihub-part-size <bytes>', description: 'part_size of multipart sessions', default: LIMITS.defaultPartSize, min: 1 }),
    resultsPageSize: integerOption({
      flag: '--aihub-results-page-size <n>',
      description: 'files per page of run results',
      default: SANDBOX.resultsPageSize,
      min: 1,
    }),
    filesPageSize: integerOption({
      flag: '--aihub-files-page-size <n>',
      description: 'default page_size of file listings',
      default: SANDBOX.filesPageSize,
      min: 1,
    }),
    jobStepMs: integerOption({
      flag: '--aihub-job-step-ms <ms>',
      description: 'how long a delete job stays PENDING, then RUNNING',
      default: SANDBOX.jobStepMs,
      min: 0,
    }),
  },
  create: async (core, options) => (await import('./protocol.js')).createAihub(core, options),
});
