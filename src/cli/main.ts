// `ftune`: the engine as a command-line tool, and the training child process the extension spawns.
// Each subcommand lives in its own module, loaded only when used (start-up stays fast).
import { METHOD_IDS } from '../core/methods';
import { DataFileError } from '../core/formats';
import { UsageError } from './args';

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, { summary: string; load: () => Command }> = {
  train: { summary: `fine-tune a model (LoRA or full; ${METHOD_IDS.join(', ')})`, load: () => require('./train').trainCommand },
  eval: { summary: 'loss / perplexity or a generation metric over a data file', load: () => require('./eval').evalCommand },
  generate: { summary: 'complete a prompt or a chat', load: () => require('./generate').generateCommand },
  score: { summary: 'reward of a response under a trained reward model', load: () => require('./score').scoreCommand },
  serve: { summary: 'generation server for the playground (JSON lines on stdin/stdout)', load: () => require('./serve').serveCommand },
  bench: { summary: 'time training steps and generation on named shapes', load: () => require('./bench').benchCommand },
  validate: { summary: 'check a data file: every problem as file:line: reason', load: () => require('./validate').validateCommand },
  preview: { summary: 'show examples as the model sees them, trained tokens highlighted', load: () => require('./preview').previewCommand },
  data: { summary: 'datasets: pull from the Hub, split, build from files or CSV', load: () => require('./data').dataCommand },
  export: { summary: 'take the model anywhere: PEFT adapter, merged weights, GGUF + Ollama Modelfile, TRL scripts', load: () => require('./export').exportCommand },
  doctor: { summary: 'which backends load and what they run on', load: () => require('./doctor').doctorCommand },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  return ['usage: ftune <command> [options]   (ftune <command> --help for its options)', '', ...Object.entries(COMMANDS).map(([k, c]) => `  ${k.padEnd(width)}  ${c.summary}`)].join('\n');
}

/** Runs the CLI; the process exits with the command's code. Errors become one `ftune: error:` line. */
export async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    process.exitCode = name ? 0 : 1;
    return;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`ftune: error: unknown command ${JSON.stringify(name)}\n${usage()}\n`);
    process.exitCode = 1;
    return;
  }
  try {
    process.exitCode = await command.load()(rest);
  } catch (err) {
    process.stderr.write(formatError(err));
    process.exitCode = 1;
  }
  // tfjs keeps handles (wasm worker, timers) alive; a finished command must not hang.
  setImmediate(() => process.exit());
}

export function formatError(err: unknown): string {
  if (err instanceof DataFileError) {
    // One summary line, then every problem (up to the cap) as file:line: reason.
    const n = err.problems.length;
    return `ftune: error: ${n} problem${n === 1 ? '' : 's'} in the data; nothing was run\n${err.message}\n`;
  }
  if (err instanceof UsageError) {
    const [first, ...more] = err.message.split('\n');
    return `ftune: error: ${first}\n${more.join('\n')}${more.length ? '\n' : ''}`;
  }
  const message = err instanceof Error ? err.message : String(err);
  return `ftune: error: ${message.split('\n')[0]}\n`;
}

if (require.main === module) void main(process.argv.slice(2));
