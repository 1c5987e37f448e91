/** What the command line knows of hybrid before a provider is chosen; index.ts is the provider itself. */
import type { ProviderDeclaration } from '../../core/provider.js';
import { HYBRID_DEFAULT_ENDPOINT } from './contract.js';

export const hybridDeclaration = {
  name: 'hybrid',
  summary: 'large videos → video records (one presigned PUT ≤ 150 MiB, 5 MiB chunks above, complete)',
  defaultEndpoint: HYBRID_DEFAULT_ENDPOINT,
  flags: [{ flags: '--channel-id <id>', description: 'channel the videos go to (hybrid channel_id)', key: 'channelId', env: 'BATCHUP_HYBRID_CHANNEL_ID' }],
} satisfies ProviderDeclaration;
