// A multi-step input engine with a working Back button, independent of VS Code (the UI is an
// interface, so the whole flow is unit-tested with a scripted UI). Each step reads and writes a
// shared state object and says where to go next; steps that do not apply return 'skip' and are
// passed over in the direction of travel, so Back never lands on a skipped step.

export const BACK: unique symbol = Symbol('back');
export type Back = typeof BACK;

export interface PickItem<T> {
  label: string;
  description?: string;
  detail?: string;
  value: T;
}

export interface PickOptions<T> {
  title: string;
  step: number;
  totalSteps: number;
  placeholder: string;
  items: readonly PickItem<T>[];
  /** the item to highlight first (e.g. the previous answer after Back). */
  active?: T;
  canBack: boolean;
}

export interface InputOptions {
  title: string;
  step: number;
  totalSteps: number;
  prompt: string;
  value: string;
  placeholder?: string;
  /** returns an error message, or undefined when the value is acceptable. */
  validate: (value: string) => string | undefined;
  canBack: boolean;
}

/** What the wizard needs from a UI: a pick list and a text box, each answering a value, Back, or undefined (cancelled). */
export interface WizardUI {
  pick<T>(options: PickOptions<T>): Promise<T | Back | undefined>;
  input(options: InputOptions): Promise<string | Back | undefined>;
}

export type StepOutcome = 'next' | 'back' | 'skip' | 'cancel' | 'repeat';

export interface StepContext {
  step: number;
  totalSteps: number;
  canBack: boolean;
}

export type Step<S> = (state: S, context: StepContext) => Promise<StepOutcome>;

/** Runs the steps; resolves true when the last one completes, false when cancelled. */
export async function runSteps<S>(steps: readonly Step<S>[], state: S): Promise<boolean> {
  let index = 0;
  let direction: 1 | -1 = 1;
  // the first step that actually showed something: Back is hidden there.
  let firstShown = -1;
  while (index >= 0 && index < steps.length) {
    const canBack = firstShown >= 0 && index > firstShown;
    const outcome = await steps[index](state, { step: index + 1, totalSteps: steps.length, canBack });
    switch (outcome) {
      case 'cancel':
        return false;
      case 'repeat':
        continue;
      case 'skip':
        index += direction;
        if (index < 0) return false;
        continue;
      case 'back':
        direction = -1;
        index--;
        if (index < 0) return false;
        continue;
      case 'next':
        if (firstShown < 0) firstShown = index;
        direction = 1;
        index++;
        continue;
    }
  }
  return index >= steps.length;
}

/** Maps a UI answer to a step outcome, storing the value when there is one. */
export function outcomeOf<T>(answer: T | Back | undefined, store: (value: T) => void): StepOutcome {
  if (answer === undefined) return 'cancel';
  if (answer === BACK) return 'back';
  store(answer);
  return 'next';
}
