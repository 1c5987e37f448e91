/** What the command line knows of aihub before a provider is chosen; index.ts is the provider itself. */
import type { ProviderDeclaration } from '../../core/provider.js';
import { AIHUB_DEFAULT_ENDPOINT } from './contract.js';
import { AIHUB_FLAGS } from './options.js';

export const aihubDeclaration = {
  name: 'aihub',
  summary: 'named batches of documents and images for AI Hub apps (PUT ≤ 10 MiB, multipart sessions above, app runs)',
  defaultEndpoint: AIHUB_DEFAULT_ENDPOINT,
  flags: AIHUB_FLAGS,
} satisfies ProviderDeclaration;
