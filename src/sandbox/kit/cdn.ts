/**
 * The sandbox's `/cdn/` settings, declared like a protocol's (kit/options.ts) so `batchup serve`
 * builds its flag from here. `--cdn-ttl S`: an object's URL answers 410 Gone once S seconds have
 * passed since the object was last stored (storing the same bytes again renews it, as a fresh
 * upload renews a CDN URL) — for trying `batchup manifest verify` and URL refreshes.
 */
import { numberOption } from './options.js';

export const CDN_OPTIONS = {
  ttlSec: numberOption({
    flag: '--cdn-ttl <seconds>',
    description: 'CDN URLs answer 410 Gone this many seconds after their object was stored',
    default: 0,
    defaultText: 'never',
  }),
};
