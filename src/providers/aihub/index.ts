/**
 * The aihub provider (seed 002): a named batch of files for AI Hub apps. Files up to 10 MiB are
 * PUT as they are, larger ones go through multipart sessions (upload.ts); `--run-app` runs an app
 * on the batch afterwards (app-run.ts); `batchup batches|runs …` manage what the server keeps
 * (commands.ts). Remote names are one URL path segment each; two inputs with one remote name are
 * refused (options.ts `screenItems`).
 */
import { bearerToken } from '../../core/credentials.js';
import type { ProviderModule } from '../../core/provider.js';
import { aihubDeclaration } from './declaration.js';
import { AIHUB_COMMANDS } from './commands.js';
import { aihubFingerprint, aihubOptions, screenItems, type AihubOptions } from './options.js';
import { planAihub } from './plan.js';
import { aihubPolicy } from './policy.js';
import { openAihubRun } from './run.js';

export const aihub: ProviderModule<AihubOptions> = {
  ...aihubDeclaration,
  sandboxPath: '/api',
  policy: aihubPolicy,
  capabilities: { inputs: ['file'], modes: [] },
  options: aihubOptions,
  fingerprint: aihubFingerprint,
  credentials: (auth, endpoint) => bearerToken('aihub', auth, endpoint),
  plan: planAihub,
  screen: (items) => screenItems(items),
  open: openAihubRun,
  commands: AIHUB_COMMANDS,
};
