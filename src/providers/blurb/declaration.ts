/** What the command line knows of blurb before a provider is chosen; index.ts is the provider itself. */
import type { ProviderDeclaration } from '../../core/provider.js';
import { BLURB_DEFAULT_ENDPOINT } from './contract.js';
import { BLURB_FLAGS } from './options.js';

export const blurbDeclaration = {
  name: 'blurb',
  summary: 'music-video render batches from SPEC files (asset pre-checks, submit once, poll or webhooks, one entry per render)',
  defaultEndpoint: BLURB_DEFAULT_ENDPOINT,
  flags: BLURB_FLAGS,
} satisfies ProviderDeclaration;
