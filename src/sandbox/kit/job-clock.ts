/**
 * Time-driven job states. A sandbox job is not run by a worker: it is a start time and a list of
 * phases, and its state is computed whenever someone asks ("created at t, phases of these
 * lengths: where is it at `now`?"). Restarts, polls at any rate and many jobs cost nothing, and a
 * test that injects `now` sees every state without sleeping.
 *
 * Examples: aihub delete jobs PENDING → RUNNING → COMPLETE; an app run RUNNING for n files; claid
 * ACCEPTED → WAITING → PROCESSING → DONE; blurb renders PENDING → COLLECTING_ASSETS → RENDERING →
 * COMPLETED with progress 0–100. bach's per-image processing is {@link stepsDone}.
 */

/** A source of the current time in ms (Date.now, or a test's fake clock). */
export type Clock = () => number;

export interface Phase<S extends string> {
  state: S;
  /** How long the job stays in this state; 0 passes through it at once. */
  ms: number;
}

export interface JobPosition<S extends string> {
  state: S;
  /** Index of the phase it is in; `phases.length` once final. */
  phase: number;
  /** 0–100 (integer, rounded down) through the whole walk; 100 only when final. */
  progress: number;
  /** 0..1 through the current phase (1 once final). */
  phaseFraction: number;
  done: boolean;
  /** When the state changes next (undefined once final): where to schedule a webhook or a tick. */
  nextChangeAt?: number;
  /** When the final state is (or was) reached. */
  finishAt: number;
}

/** Where a job that started at `startedAt` stands at `now`. Before its start it is in its first phase. */
export function jobAt<S extends string>(startedAt: number, phases: readonly Phase<S>[], final: S, now: number): JobPosition<S> {
  const total = phases.reduce((t, p) => t + Math.max(0, p.ms), 0);
  const finishAt = startedAt + total;
  const elapsed = Math.max(0, now - startedAt);
  let from = 0;
  for (let i = 0; i < phases.length; i++) {
    const ms = Math.max(0, phases[i]!.ms);
    if (elapsed < from + ms) {
      return {
        state: phases[i]!.state,
        phase: i,
        progress: Math.min(99, Math.floor((100 * elapsed) / total)),
        phaseFraction: (elapsed - from) / ms,
        done: false,
        nextChangeAt: startedAt + from + ms,
        finishAt,
      };
    }
    from += ms;
  }
  return { state: final, phase: phases.length, progress: 100, phaseFraction: 1, done: true, finishAt };
}

/**
 * How many of `total` items, worked through one after another at `stepMs` each from `startedAt`,
 * are finished at `now` (all of them at once when `stepMs` is 0).
 */
export function stepsDone(startedAt: number, stepMs: number, total: number, now: number): number {
  if (total <= 0) return 0;
  if (!(stepMs > 0)) return now >= startedAt ? total : 0;
  return Math.max(0, Math.min(total, Math.floor((now - startedAt) / stepMs)));
}
