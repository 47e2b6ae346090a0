// The learning demo's data: single-digit additions asked in chat form and answered GSM8K-style
// ("a + b = c\n#### c"). Held-out questions use other templates, names and objects than training, so
// a rise in accuracy means the model learned the task, not the strings.
import type { ChatMessage } from './protocol';
import { mulberry32 } from './random';

const TRAIN_TEMPLATES = [
  (a: number, b: number) => `What is ${a} plus ${b}?`,
  (a: number, b: number) => `Add ${a} and ${b}.`,
  (a: number, b: number, n: string, o: string) => `${n} has ${a} ${o} and buys ${b} more. How many ${o} does ${n} have?`,
  (a: number, b: number, n: string, o: string) => `There are ${a} ${o} in a box and ${n} puts in ${b} more. How many ${o} are in the box?`,
  (a: number, b: number) => `Compute ${a} + ${b}.`,
];
const HELDOUT_TEMPLATES = [
  (a: number, b: number) => `How much is ${a} added to ${b}?`,
  (a: number, b: number, n: string, o: string) => `${n} found ${a} ${o} on Monday and ${b} ${o} on Tuesday. How many ${o} did ${n} find in total?`,
  (a: number, b: number) => `What do you get when you add ${a} to ${b}?`,
];
const TRAIN_NAMES = ['Tom', 'Sara', 'Ali', 'Mia', 'John', 'Lena'];
const HELDOUT_NAMES = ['Priya', 'Carlos', 'Yuki'];
const TRAIN_OBJECTS = ['apples', 'pens', 'cards', 'books', 'coins'];
const HELDOUT_OBJECTS = ['shells', 'stamps', 'marbles'];

export interface DemoExample {
  messages: ChatMessage[];
}

function make(count: number, seed: number, heldOut: boolean): DemoExample[] {
  const rand = mulberry32(seed);
  const pick = <T,>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)];
  const templates = heldOut ? HELDOUT_TEMPLATES : TRAIN_TEMPLATES;
  const names = heldOut ? HELDOUT_NAMES : TRAIN_NAMES;
  const objects = heldOut ? HELDOUT_OBJECTS : TRAIN_OBJECTS;
  return Array.from({ length: count }, () => {
    const a = Math.floor(rand() * 10), b = Math.floor(rand() * 10);
    const question = pick(templates)(a, b, pick(names), pick(objects));
    return { messages: [{ role: 'user', content: question }, { role: 'assistant', content: `${a} + ${b} = ${a + b}\n#### ${a + b}` }] };
  });
}

export function demoTrainSet(count = 400, seed = 1): DemoExample[] {
  return make(count, seed, false);
}

export function demoHeldOutSet(count = 60, seed = 2): DemoExample[] {
  return make(count, seed, true);
}
