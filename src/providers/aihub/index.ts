/**
 * The aihub provider (seed 002): a named batch of files for AI Hub apps. Files up to 10 MiB are
 * PUT as they are, larger ones go through multipart sessions (upload.ts); `--run-app` runs an app
 * on the batch afterwards (app-run.ts); `batchup batches|runs …` manage what the server keeps
 * (commands.ts). Remote names are one URL path segment each; two inputs with one remote name are
 * refused (options.ts `screenItems`).
 */
import { bearerToken } from '../../core/credentials.js';
import type { ProviderModule } from '../../core/provider.js';
import { AIHUB_COMMANDS } from './commands.js';
import { AIHUB_DEFAULT_ENDPOINT } from './contract.js';
import { AIHUB_FLAGS, aihubFingerprint, aihubOptions, screenItems, type AihubOptions } from './options.js';
import { planAihub } from './plan.js';
import { aihubPolicy } from './policy.js';
import { openAihubRun } from './run.js';

export const aihub: ProviderModule<AihubOptions> = {
  name: 'aihub',
  summary: 'named batches of documents and images for AI Hub apps (PUT ≤ 10 MiB, multipart sessions above, app runs)',
  defaultEndpoint: AIHUB_DEFAULT_ENDPOINT,
  sandboxPath: '/api',
  policy: aihubPolicy,
  capabilities: { inputs: ['file'], modes: [] },
  flags: AIHUB_FLAGS,
  options: aihubOptions,
  fingerprint: aihubFingerprint,
  credentials: (auth, endpoint) => bearerToken('aihub', auth, endpoint),
  plan: planAihub,
  screen: (items) => screenItems(items),
  open: openAihubRun,
  commands: AIHUB_COMMANDS,
};
