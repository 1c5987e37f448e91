/** What the command line knows of claid before a provider is chosen; index.ts is the provider itself. */
import type { ProviderDeclaration } from '../../core/provider.js';
import { CLAID_DEFAULT_ENDPOINT } from './contract.js';
import { CLAID_FLAGS } from './options.js';

export const claidDeclaration = {
  name: 'claid',
  summary: 'batch image edits (resize, background, restorations…): local files one sync upload each, URL lists and storage folders as batch jobs',
  defaultEndpoint: CLAID_DEFAULT_ENDPOINT,
  flags: CLAID_FLAGS,
} satisfies ProviderDeclaration;
