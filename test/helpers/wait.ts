/**
 * Waiting on a condition instead of sleeping a fixed time: a busy CI machine only makes the wait
 * longer, never the test fail. The deadline is there so that a condition that never comes true
 * still ends the test with a message.
 */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, { timeoutMs = 60_000, everyMs = 20 } = {}): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > until) throw new Error(`gave up waiting ${timeoutMs / 1000} s for: ${what}`);
    await new Promise((ok) => setTimeout(ok, everyMs));
  }
}

/** A value once it has stopped changing for `quietMs` (e.g. bytes a server counts after a kill). */
export async function settledValue(read: () => Promise<number>, what: string, quietMs = 300): Promise<number> {
  let last = await read();
  let since = Date.now();
  await waitFor(
    async () => {
      const now = await read();
      if (now !== last) [last, since] = [now, Date.now()];
      return Date.now() - since >= quietMs;
    },
    `${what} to settle`,
    { everyMs: 50 },
  );
  return last;
}
