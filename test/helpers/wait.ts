/**
 * Waiting on a condition instead of sleeping a fixed time: a busy CI machine only makes the wait
 * longer, never the test fail. The deadline is there so that a condition that never comes true
 * still ends the test with a message.
 */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  { timeoutMs = 60_000, everyMs = 20 } = {},
): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > until) throw new Error(`gave up waiting ${timeoutMs / 1000} s for: ${what}`);
    await new Promise((ok) => setTimeout(ok, everyMs));
  }
}
