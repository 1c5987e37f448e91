/** Validated items as the planners get them: `n` PNGs of 100 bytes, `/d/<order>.png`, orders from `start`. */
import type { Item } from '../../src/core/types.js';

export const pngItems = (n: number, start = 0): Item[] =>
  Array.from({ length: n }, (_, i) => ({
    source: `/d/${start + i}.png`,
    kind: 'file' as const,
    path: `/d/${start + i}.png`,
    order: start + i,
    name: `${start + i}.png`,
    size: 100,
    format: 'png',
  }));
