/** One claid upload run: local files go through the upload endpoint (upload.ts), URLs and storage folders as batch jobs (job.ts). */
import type { ProviderContext, ProviderRun } from '../../core/provider.js';
import { ClaidApi } from './api.js';
import { runJob } from './job.js';
import type { ClaidOptions } from './options.js';
import type { RunState } from './run-state.js';
import { uploadFiles } from './upload.js';

export function openClaidRun(ctx: ProviderContext<ClaidOptions>): ProviderRun {
  const api = new ClaidApi(ctx.http, ctx.endpoint);
  const run: RunState = {};
  return { runBatch: (batch) => (batch.mode === 'upload' ? uploadFiles(batch, ctx, api, run) : runJob(batch, ctx, api, run)) };
}
