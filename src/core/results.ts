/**
 * What a run did with each input, by scan order, for the manifest and the summary. An input
 * whose entries the journal holds (skipped as done, or recorded by this run) is kept as a
 * reference to them, decoded only when the manifest is written: the run holds no entry objects
 * of its own for those. Entries of its own (rejections, failures not journaled) are kept as they
 * are. The counts by status are kept up to date as outcomes arrive (no pass over every entry).
 */
import { ordered } from './journal-codec.js';
import type { JournalState } from './journal.js';
import type { EntryStatus, ManifestEntry } from './manifest.js';

type Counts = Record<EntryStatus, number>;

/** An outcome as the journal has it: `skipped` overrides the status; `mtimeMs` a rehashed file's new mtime. */
interface Ref {
  source: string;
  skipped: boolean;
  mtimeMs?: number;
}

export class RunResults {
  private readonly slots = new Map<number, ManifestEntry[] | Ref | string>();
  private sortedOrders: number[] | undefined;
  readonly counts: Counts = { uploaded: 0, skipped: 0, rejected: 0, failed: 0 };

  constructor(private readonly state: JournalState) {}

  /** Entries of the run's own. */
  set(order: number, entries: ManifestEntry[]): void {
    this.replace(order, entries, entries);
  }

  /** Skipped: done earlier, the entries as the journal has them (`entries`: those, for the counts). */
  skipped(order: number, source: string, entries: readonly ManifestEntry[], mtimeMs?: number): void {
    this.replace(order, mtimeMs === undefined ? { source, skipped: true } : { source, skipped: true, mtimeMs }, entries, 'skipped');
  }

  /** Just recorded in the journal: `entries` as recorded (for the counts). */
  recorded(order: number, source: string, entries: readonly ManifestEntry[]): void {
    this.replace(order, entries.length ? source : [], entries);
  }

  private replace(order: number, slot: ManifestEntry[] | Ref | string, entries: readonly ManifestEntry[], as?: EntryStatus): void {
    const old = this.slots.get(order);
    if (old !== undefined) for (const e of this.decode(old)) this.counts[e.status]--;
    else this.sortedOrders = undefined;
    for (const e of entries) this.counts[as ?? e.status]++;
    this.slots.set(order, slot);
  }

  has(order: number): boolean {
    return this.slots.has(order);
  }

  get(order: number): ManifestEntry[] | undefined {
    const slot = this.slots.get(order);
    return slot === undefined ? undefined : this.decode(slot);
  }

  /** Every entry, in scan order. */
  *all(): Iterable<ManifestEntry> {
    this.sortedOrders ??= [...this.slots.keys()].sort((a, b) => a - b);
    for (const order of this.sortedOrders) {
      const slot = this.slots.get(order);
      if (Array.isArray(slot)) for (const e of slot) yield ordered(e);
      else if (slot !== undefined) yield* this.decode(slot);
    }
  }

  orders(): number[] {
    return [...this.slots.keys()];
  }

  private decode(slot: ManifestEntry[] | Ref | string): ManifestEntry[] {
    if (Array.isArray(slot)) return slot;
    if (typeof slot === 'string') return this.state.entries(slot) ?? [];
    const list = this.state.entries(slot.source) ?? [];
    for (const e of list) {
      e.status = 'skipped';
      if (slot.mtimeMs !== undefined) e.mtimeMs = slot.mtimeMs;
    }
    return list;
  }
}
