/** Bounded concurrency over lists and streams. */

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
 * `fn` over `items` with at most `concurrency` running, yielded in input order as each is ready
 * (a consumer that stops pulling stops new work: at most `concurrency` results wait).
 */
export async function* mapOrdered<T, R>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<R>): AsyncGenerator<R> {
  const running: Promise<R>[] = [];
  let next = 0;
  while (next < items.length || running.length) {
    while (running.length < Math.max(1, concurrency) && next < items.length) running.push(quiet(fn(items[next++]!)));
    yield await running.shift()!;
  }
}

/**
 * Run `worker` over what `source` yields, at most `concurrency` at once, pulling up to `ahead`
 * values before a worker is free for them (so the source works while every worker is busy).
 * The first error of the source or a worker is thrown once every started worker has ended.
 */
export async function forEachPool<T>(source: AsyncIterable<T>, concurrency: number, worker: (item: T) => Promise<void>, ahead = 1): Promise<void> {
  const it = source[Symbol.asyncIterator]();
  // Calls to next() on an async generator queue up and settle in order: a list of them is a buffer.
  const buffered: Promise<IteratorResult<T>>[] = [];
  let failed = false;
  let error: unknown;
  const take = (): Promise<IteratorResult<T>> => {
    while (buffered.length < ahead + 1) buffered.push(quiet(it.next()));
    return buffered.shift()!;
  };
  const run = async () => {
    while (!failed) {
      let r: IteratorResult<T>;
      try {
        r = await take();
        if (r.done) return;
        await worker(r.value);
      } catch (err) {
        if (!failed) error = err;
        failed = true;
        return;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, run));
  if (failed) {
    await it.return?.(undefined).catch(() => undefined);
    throw error;
  }
}

/** The same promise, marked handled: it is awaited later, but may reject before that. */
function quiet<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}
