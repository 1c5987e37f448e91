/** What the command line knows of bach before a provider is chosen; index.ts is the provider itself. */
import type { ProviderDeclaration } from '../../core/provider.js';
import { BACH_DEFAULT_ENDPOINT } from './contract.js';

export const bachDeclaration = {
  name: 'bach',
  summary: 'images and ZIPs of images → CDN URLs (sync multipart or async JSON, then status polling)',
  defaultEndpoint: BACH_DEFAULT_ENDPOINT,
  flags: [],
} satisfies ProviderDeclaration;
