/** hybrid's settings and counters (declared apart so the definition and the code share them without a cycle). */
import type { FaultKind } from '../../kit/faults.js';

export interface HybridOptions {
  /** Lifetime of presigned URLs, seconds. */
  presignTtlSec: number;
  /** Probability 0..1 that a presigned part PUT gets a fault. */
  partFaultRate: number;
  /** Kinds for part PUTs; 'cut' breaks the body off halfway (the chunk is recorded as failed). */
  partFaultKinds: FaultKind[];
}

export interface HybridStats {
  /** `<uploadId>/<partNumber>` -> part PUTs whose body the sandbox took in (stored, or broken off). */
  partsReceived: Record<string, number>;
  /** Part PUTs refused before their body was read (expired URL, wrong length, injected 5xx/429). */
  partsRefused: number;
  /** Body bytes that arrived on part PUTs (stored or not). */
  partBytesReceived: number;
  /** Presigned PUTs refused because they carried an Authorization header. */
  presignedWithAuth: number;
}

/** Part faults draw from the API fault seed + this, so the two sequences replay apart. */
export const PART_FAULT_SEED_OFFSET = 1;
