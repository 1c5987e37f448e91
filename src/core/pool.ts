/** Run `worker` over `items` with at most `concurrency` in flight; results keep input order. */
export async function mapPool<T, R>(items: readonly T[], concurrency: number, worker: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const run = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await worker(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, run));
  return out;
}

/**
 * A concurrency limit that adapts like TCP congestion control (AIMD): every throttling answer
 * (429, 503) halves it, every success adds 1/limit, so the whole pool slows down when the server
 * pushes back — not just the one request that was told to wait — and recovers gradually.
 */
export class AdaptiveLimit {
  private active = 0;
  private limit: number;
  private readonly waiters: (() => void)[] = [];

  constructor(readonly max: number) {
    this.limit = max;
  }

  get current(): number {
    return Math.max(1, Math.floor(this.limit));
  }

  async acquire(): Promise<void> {
    if (this.active < this.current) {
      this.active++;
      return;
    }
    // The slot is counted for us by wake() before we resume.
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  release(): void {
    this.active--;
    this.wake();
  }

  throttled(): void {
    this.limit = Math.max(1, this.limit / 2);
  }

  succeeded(): void {
    this.limit = Math.min(this.max, this.limit + 1 / this.limit);
    this.wake();
  }

  private wake(): void {
    while (this.waiters.length && this.active < this.current) {
      this.active++;
      this.waiters.shift()!();
    }
  }
}
