/**
 * What claid takes, as a ValidationPolicy: the input formats the vendor documents (BMP, GIF,
 * JPEG, PNG, TIFF, WebP, AVIF, HEIC), recognised by their bytes, within the contract's size and
 * pixel limits (both ASSUMED in contract.ts). The same policy judges the first bytes of every URL
 * before a batch is submitted (check.ts). No ZIPs: an archive is not an image to edit.
 */
import type { ValidationPolicy } from '../../core/types.js';
import { extensionMap } from '../../core/validate/formats.js';
import { INPUT_EXTENSIONS, LIMITS } from './contract.js';

/** Extension → canonical format (jpeg → jpg, tif → tiff, heif → heic). */
const extensions = extensionMap(INPUT_EXTENSIONS);

export const claidPolicy: ValidationPolicy = {
  formats: new Set(extensions.values()),
  extensions,
  maxFileSize: LIMITS.maxFileSize,
  maxPixels: LIMITS.maxInputPixels,
  /** Animated GIF/WebP frames: batchup's own guard against decompression bombs. */
  maxFrames: 1000,
  zip: { maxEntries: 0, maxTotalUncompressed: 0, maxRatio: 1 },
};
