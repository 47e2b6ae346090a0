// Live trainer events per run folder, for the panels that follow a run (PanelHost.onRunEvent). A run
// this window trains delivers its events from the trainer's stdout (RunManager.onEvent → deliver); a
// run trained elsewhere (another window, `ftune train` in a terminal) is followed by tailing its
// metrics.jsonl whenever the file watcher says it changed (fileChanged). No VS Code imports.

import * as fs from 'fs';
import * as path from 'path';
import type { TrainerEvent } from '../core/protocol';
import { checkTrainerEventLine } from '../core/runFileSchemas';
import { METRICS_FILE } from '../core/runStore';

export type RunEventListener = (event: TrainerEvent) => void;

export interface Subscription {
  dispose(): void;
}

export class RunEvents {
  private readonly listeners = new Map<string, Set<RunEventListener>>();
  /** bytes of each followed metrics.jsonl already delivered to listeners. */
  private readonly offsets = new Map<string, number>();

  /** `ownedByThisWindow(runDir)`: its trainer's stdout already delivers its events. */
  constructor(private readonly ownedByThisWindow: (runDir: string) => boolean) {}

  /** Events of `runDir` from now on; the history is read separately (runStore readEvents). */
  subscribe(runDir: string, listener: RunEventListener): Subscription {
    const key = path.resolve(runDir);
    let set = this.listeners.get(key);
    if (!set) {
      set = new Set();
      this.listeners.set(key, set);
      this.offsets.set(key, fileSize(path.join(key, METRICS_FILE)));
    }
    const listeners = set;
    listeners.add(listener);
    return {
      dispose: () => {
        listeners.delete(listener);
        if (listeners.size === 0 && this.listeners.get(key) === listeners) {
          this.listeners.delete(key);
          this.offsets.delete(key);
        }
      },
    };
  }

  /** An event of a trainer this window runs (its stdout). */
  deliver(runDir: string, event: TrainerEvent): void {
    const listeners = this.listeners.get(path.resolve(runDir));
    if (listeners) for (const listener of [...listeners]) listener(event);
  }

  /** metrics.jsonl of `runDir` changed: delivers its new complete lines, unless this window trains it. */
  fileChanged(runDir: string): void {
    const key = path.resolve(runDir);
    if (!this.listeners.has(key)) return;
    const file = path.join(key, METRICS_FILE);
    let start = this.offsets.get(key) ?? 0;
    const size = fileSize(file);
    if (this.ownedByThisWindow(key)) {
      this.offsets.set(key, size);
      return;
    }
    if (size < start) {
      // a restarted run rewrote the file: follow it from its beginning (it may already hold lines)
      start = 0;
      this.offsets.set(key, 0);
    }
    if (size === start) return;
    const buffer = Buffer.alloc(size - start);
    const fd = fs.openSync(file, 'r');
    try {
      fs.readSync(fd, buffer, 0, buffer.length, start);
    } finally {
      fs.closeSync(fd);
    }
    // a half-written line waits for the next change (bytes, so a split character does not count)
    const complete = buffer.lastIndexOf(0x0a) + 1;
    this.offsets.set(key, start + complete);
    for (const line of buffer.subarray(0, complete).toString('utf8').split('\n')) {
      const checked = checkTrainerEventLine(line);
      if (checked?.ok) this.deliver(key, checked.event);
    }
  }
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}
