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

type Slot = ManifestEntry[] | Ref | string;

export class RunResults {
  /** Slots of whole scan orders (the inputs), by order; others (rejections before them, a spec's refs) in `sparse`. */
  private readonly dense: (Slot | undefined)[] = [];
  private readonly sparse = new Map<number, Slot>();
  private sortedSparse: number[] | undefined;
  readonly counts: Counts = { uploaded: 0, skipped: 0, rejected: 0, failed: 0 };

  constructor(private readonly state: JournalState) {}

  /** Entries of the run's own. */
  set(order: number, entries: ManifestEntry[]): void {
    this.replace(order, entries, (counts) => count(counts, entries));
  }

  /** Skipped: done earlier, its `entries` (how many) as the journal has them. */
  skipped(order: number, source: string, entries: number, mtimeMs?: number): void {
    this.replace(order, mtimeMs === undefined ? { source, skipped: true } : { source, skipped: true, mtimeMs }, (counts) => {
      counts.skipped += entries;
    });
  }

  /** Just recorded in the journal: `entries` as recorded (for the counts). */
  recorded(order: number, source: string, entries: readonly ManifestEntry[]): void {
    this.replace(order, entries.length ? source : [], (counts) => count(counts, entries));
  }

  private slot(order: number): Slot | undefined {
    return isDense(order) ? this.dense[order] : this.sparse.get(order);
  }

  private replace(order: number, slot: Slot, add: (counts: Counts) => void): void {
    const old = this.slot(order);
    if (old !== undefined) for (const e of this.decode(old)) this.counts[e.status]--;
    add(this.counts);
    if (isDense(order)) {
      // Holes up to it first, so the array stays packed.
      while (this.dense.length < order) this.dense.push(undefined);
      this.dense[order] = slot;
    } else {
      if (old === undefined) this.sortedSparse = undefined;
      this.sparse.set(order, slot);
    }
  }

  has(order: number): boolean {
    return this.slot(order) !== undefined;
  }

  get(order: number): ManifestEntry[] | undefined {
    const slot = this.slot(order);
    return slot === undefined ? undefined : this.decode(slot);
  }

  /** Every entry, in scan order. */
  *all(): Iterable<ManifestEntry> {
    this.sortedSparse ??= [...this.sparse.keys()].sort((a, b) => a - b);
    const sparse = this.sortedSparse;
    let k = 0;
    for (let order = 0; order <= this.dense.length; order++) {
      for (; k < sparse.length && sparse[k]! < order; k++) yield* this.entriesOf(this.sparse.get(sparse[k]!)!);
      const slot = this.dense[order];
      if (slot !== undefined) yield* this.entriesOf(slot);
    }
    for (; k < sparse.length; k++) yield* this.entriesOf(this.sparse.get(sparse[k]!)!);
  }

  orders(): number[] {
    const out: number[] = [];
    for (const [order, slot] of this.dense.entries()) if (slot !== undefined) out.push(order);
    out.push(...this.sparse.keys());
    return out;
  }

  private entriesOf(slot: Slot): ManifestEntry[] {
    return Array.isArray(slot) ? slot.map(ordered) : this.decode(slot);
  }

  private decode(slot: Slot): ManifestEntry[] {
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

function count(counts: Counts, entries: readonly ManifestEntry[]): void {
  for (const e of entries) counts[e.status]++;
}

/** An input's own order (a whole number from 0): kept in the dense array. */
const isDense = (order: number) => Number.isInteger(order) && order >= 0 && order < 2 ** 31;
