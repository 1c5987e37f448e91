/** What hybrid's route handlers share: the services, the open uploads, the signer, the counters. */
import type { FaultInjector } from '../../kit/faults.js';
import type { SandboxCore } from '../../kit/protocol.js';
import type { HybridStats } from './types.js';
import type { Presigner } from './presign.js';
import type { Uploads } from './uploads.js';

export interface HybridState {
  core: SandboxCore;
  uploads: Uploads;
  presign: Presigner;
  /** Faults of part PUTs (their own seeded sequence). */
  partFaults: FaultInjector;
  counters: HybridCounters;
}

export class HybridCounters {
  private readonly received = new Map<string, number>();
  private refused = 0;
  private bytes = 0;
  presignedWithAuth = 0;

  /** One part PUT for `uploadId` part `n` arrived; `bytes` of body were read. */
  partReceived(uploadId: string, n: number, bytes: number): void {
    const key = `${uploadId}/${n}`;
    this.received.set(key, (this.received.get(key) ?? 0) + 1);
    this.bytes += bytes;
  }

  partRefused(): void {
    this.refused += 1;
  }

  snapshot(): HybridStats {
    return {
      partsReceived: Object.fromEntries(this.received),
      partsRefused: this.refused,
      partBytesReceived: this.bytes,
      presignedWithAuth: this.presignedWithAuth,
    };
  }
}
