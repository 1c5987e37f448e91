/**
 * What bach accepts, as a ValidationPolicy. Extensions and the 10 MB limit come from the
 * contract; the pixel/frame/ZIP limits are batchup's own safety limits (bach documents none).
 */
import type { ValidationPolicy } from '../../core/types.js';
import { extensionMap } from '../../core/validate/formats.js';
import { ALLOWED_EXTENSIONS, LIMITS } from './contract.js';

/** Extension → canonical format (jpeg→jpg, tif→tiff). */
const extensions = extensionMap(ALLOWED_EXTENSIONS);

export const bachPolicy: ValidationPolicy = {
  formats: new Set(extensions.values()),
  extensions,
  maxFileSize: LIMITS.maxFileSize,
  /** sharp's default limitInputPixels (16383 × 16383): what image backends typically refuse above. */
  maxPixels: 268_402_689,
  /** Animated GIF/APNG/WebP frames, and TIFF pages. */
  maxFrames: 1000,
  zip: {
    maxEntries: 1000,
    /** A ZIP may be at most 10 MB itself; 512 MiB inflated is far beyond any honest image set. */
    maxTotalUncompressed: 512 * 1024 * 1024,
    /** Images barely compress; only entries over 1 MiB that shrink more than 200× are bombs. */
    maxRatio: 200,
    ratioMinBytes: 1024 * 1024,
    maxArchiveSize: LIMITS.maxFileSize,
  },
};
