/**
 * What aihub takes, as a ValidationPolicy: documents and images an AI Hub app reads. The vendor
 * documents no type list for batches; batchup sends what its validation can verify from the
 * bytes (PDF, DOCX, PNG, JPEG, TIFF, GIF, BMP, WebP). The size cap and the pixel/frame limits are
 * batchup's own guards (see LIMITS.maxFileSize in contract.ts). No ZIP uploads: a batch holds
 * files, and an archive would reach the app unopened.
 */
import type { ValidationPolicy } from '../../core/types.js';
import { extensionMap } from '../../core/validate/formats.js';
import { LIMITS } from './contract.js';

/** Extension → canonical format (jpeg→jpg, tif→tiff). */
const extensions = extensionMap(['pdf', 'docx', 'png', 'jpg', 'jpeg', 'tif', 'tiff', 'gif', 'bmp', 'webp']);

export const aihubPolicy: ValidationPolicy = {
  formats: new Set(extensions.values()),
  extensions,
  maxFileSize: LIMITS.maxFileSize,
  /** Scans at 600 dpi of an A0 sheet stay under this; anything bigger is a decompression bomb. */
  maxPixels: 268_402_689,
  /** Multi-page TIFF scans: a page is a frame. */
  maxFrames: 5000,
  zip: {
    // Not used for uploads (no 'zip' format); docx packages are checked by ooxml.ts.
    maxEntries: 10_000,
    maxTotalUncompressed: 512 * 1024 * 1024,
    maxRatio: 200,
  },
};
