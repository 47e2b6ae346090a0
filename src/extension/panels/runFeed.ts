// One run's TrainerEvents for a loss panel: the history in metrics.jsonl, then live events from the
// host. The two overlap (an event can already be in the file when it is forwarded live), so events are
// de-duplicated by their exact JSON — not by step, because a resumed run legitimately re-logs steps
// after its checkpoint with different values. Live events are batched into one message per interval.
// No vscode import: unit tested.

import type { TrainerEvent } from '../../core/protocol';

export interface Disposable {
  dispose(): void;
}

export interface RunFeedSource {
  readHistory(runDir: string): TrainerEvent[];
  subscribe(runDir: string, listener: (event: TrainerEvent) => void): Disposable;
}

export class RunFeed implements Disposable {
  readonly events: TrainerEvent[] = [];
  private readonly seen = new Set<string>();
  private pending: TrainerEvent[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly subscription: Disposable;

  constructor(
    readonly runDir: string,
    source: RunFeedSource,
    /** receives each batch of new live events. */
    private readonly onEvents: (events: TrainerEvent[]) => void,
    private readonly batchMs = 100,
  ) {
    // subscribe before reading the file: an event written in between is then seen twice (and dropped
    // once) instead of not at all
    this.subscription = source.subscribe(runDir, (event) => this.onLive(event));
    for (const event of source.readHistory(runDir)) this.accept(event);
  }

  private accept(event: TrainerEvent): boolean {
    const key = JSON.stringify(event);
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    this.events.push(event);
    return true;
  }

  private onLive(event: TrainerEvent): void {
    if (!this.accept(event)) return;
    this.pending.push(event);
    this.timer ??= setTimeout(() => this.flush(), this.batchMs);
  }

  /** Delivers the live events collected so far (called by the timer, or directly). */
  flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.onEvents(batch);
  }

  dispose(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.subscription.dispose();
  }
}
