/** Counters a test reads to prove that nothing was lost or stored twice. */

export interface SandboxStats {
  /** Distinct content objects stored. */
  objects: number;
  bytesStored: number;
  /** sha256 -> how many times an image with that content was accepted into a batch. */
  receipts: Record<string, number>;
  /** Route name -> count (e.g. 'bach.submit-with-files', 'bach.submit', 'bach.status', 'cdn'). */
  requests: Record<string, number>;
  faultsInjected: Record<string, number>;
  batches: number;
  /** `<uploadId>/<partNumber>` -> part PUTs whose body the sandbox took in (stored, or broken off). */
  partsReceived: Record<string, number>;
  /** Part PUTs refused before their body was read (expired URL, wrong length, injected 5xx/429). */
  partsRefused: number;
  /** Body bytes that arrived on part PUTs (stored or not). */
  partBytesReceived: number;
  /** Presigned PUTs refused because they carried an Authorization header. */
  presignedWithAuth: number;
  /** Bytes read from all client connections (headers and bodies, finished or cut off). */
  bytesReceived: number;
}

export class Stats {
  objects = 0;
  bytesStored = 0;
  readonly receipts = new Map<string, number>();
  readonly requests = new Map<string, number>();
  readonly faults = new Map<string, number>();
  readonly parts = new Map<string, number>();
  partBytes = 0;
  partsRefusedCount = 0;
  presignedWithAuth = 0;
  /** Set by the server: bytes read from client connections so far. */
  wireBytes: () => number = () => 0;
  /** Each protocol reports its batch count; summed in the snapshot. */
  private readonly batchCounters: Array<() => number> = [];

  addObject(bytes: number): void {
    this.objects += 1;
    this.bytesStored += bytes;
  }

  receipt(sha256: string): void {
    bump(this.receipts, sha256);
  }

  request(route: string): void {
    bump(this.requests, route);
  }

  fault(kind: string): void {
    bump(this.faults, kind);
  }

  /** One part PUT for `uploadId` part `partNumber` arrived; `bytes` of body were read. */
  partReceived(uploadId: string, partNumber: number, bytes: number): void {
    bump(this.parts, `${uploadId}/${partNumber}`);
    this.partBytes += bytes;
  }

  partRefused(): void {
    this.partsRefusedCount += 1;
  }

  registerBatchCounter(count: () => number): void {
    this.batchCounters.push(count);
  }

  snapshot(): SandboxStats {
    return {
      objects: this.objects,
      bytesStored: this.bytesStored,
      receipts: Object.fromEntries(this.receipts),
      requests: Object.fromEntries(this.requests),
      faultsInjected: Object.fromEntries(this.faults),
      batches: this.batchCounters.reduce((n, f) => n + f(), 0),
      partsReceived: Object.fromEntries(this.parts),
      partsRefused: this.partsRefusedCount,
      partBytesReceived: this.partBytes,
      presignedWithAuth: this.presignedWithAuth,
      bytesReceived: this.wireBytes(),
    };
  }
}

function bump(m: Map<string, number>, key: string): void {
  m.set(key, (m.get(key) ?? 0) + 1);
}
