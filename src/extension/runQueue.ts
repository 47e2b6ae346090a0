// The run queue: runs wait in order and at most `maxConcurrent` train at once (one by default,
// since two trainings on one machine mostly slow each other down). The queue only orders; starting
// a run and noticing its end is the launcher's job, so this is unit-tested with plain promises.

export type RunLaunch = (runId: string) => Promise<void>;

export class RunQueue {
  private readonly waiting: string[] = [];
  private readonly active = new Set<string>();
  private readonly listeners = new Set<() => void>();

  /** `launch` starts the run and resolves (or rejects) when its process has ended. */
  constructor(private readonly launch: RunLaunch, private maxConcurrent = 1) {}

  enqueue(runId: string): void {
    if (this.active.has(runId) || this.waiting.includes(runId)) return;
    this.waiting.push(runId);
    this.pump();
    this.changed();
  }

  /** Takes a run out of the queue if it has not started; returns whether it was waiting. */
  remove(runId: string): boolean {
    const index = this.waiting.indexOf(runId);
    if (index < 0) return false;
    this.waiting.splice(index, 1);
    this.changed();
    return true;
  }

  setMaxConcurrent(n: number): void {
    this.maxConcurrent = Math.max(1, Math.floor(n));
    this.pump();
    this.changed();
  }

  get running(): readonly string[] {
    return [...this.active];
  }

  get queued(): readonly string[] {
    return [...this.waiting];
  }

  /** 1-based position of a waiting run, or 0 when it is not waiting. */
  position(runId: string): number {
    return this.waiting.indexOf(runId) + 1;
  }

  onDidChange(listener: () => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  private pump(): void {
    while (this.active.size < this.maxConcurrent && this.waiting.length > 0) {
      const runId = this.waiting.shift()!;
      this.active.add(runId);
      let ended: Promise<void>;
      try {
        ended = this.launch(runId);
      } catch (error) {
        ended = Promise.reject(error);
      }
      // A failed launch frees its slot just like a finished run: the launcher reports the failure.
      ended.catch(() => undefined).then(() => {
        this.active.delete(runId);
        this.pump();
        this.changed();
      });
    }
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}

/** The offer for runs found queued by someone else: "Resume 2 queued runs?" (names when they are few). */
export function queuedRunsQuestion(names: readonly string[]): string {
  const count = names.length === 1 ? '1 queued run' : `${names.length} queued runs`;
  const which = names.length <= 3 ? ` (${names.join(', ')})` : '';
  return `Finetune Studio: Resume ${count}${which}? They were queued by another window or an earlier session.`;
}
