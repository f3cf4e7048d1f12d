// Argument parsing only: each command lazily imports its implementation from src/commands/. Errors are
// mapped to exit codes here, in one place: 0 ok, 1 a failed run, 2 usage or config error, 130 interrupted.
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { asUserError, EXIT } from './errors.js';
import { ConfigError } from './config/diagnostics.js';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

const collect = (value: string, previous: string[] = []) => [...previous, value];

function experimentOptions(command: Command): Command {
  return command.option('--set <key=value>', 'override a params key or a dotted path (repeatable): --set T=2 --set optimizer.lr=3e-4', collect, []);
}

function executionOptions(command: Command): Command {
  return command
    .addOption(backendOption())
    .option('--jobs <n>', 'jobs at once: 1 runs in this process, more run in worker processes', positiveInt('--jobs'), 1)
    .addOption(new Option('--executor <name>', 'where jobs run: local (this machine), or slurm (each job a Slurm batch job; the store must be on a shared filesystem)').choices(['local', 'slurm']).default('local'))
    .addOption(new Option('--on-interrupt <action>', 'with --executor slurm, what q / Ctrl-C does to the Slurm jobs still queued or running: ask (the default in the terminal UI), cancel them (scancel), or leave them running (the default otherwise; the same command re-attaches)').choices(['ask', 'cancel', 'leave']))
    .option('--threads <n>', 'data-parallel threads per job, or auto: every core (default: the file\'s runtime.threads, else auto); part of every job key', parseThreads)
    .option('--seeds <n>', 'train every stage under n seeds (the file\'s seed, +1, ...) and report mean ± std and the KD gain with a 95% interval (overrides the file\'s seeds)', positiveInt('--seeds'))
    .option('--cache-dir <dir>', 'content-addressed store of finished jobs (default $KDX_CACHE, else .kdx/cache)')
    .option('--runs-dir <dir>', 'where run directories are created', 'runs')
    .option('--json', 'print one JSON event per line on stdout, nothing else')
    .option('--quiet', 'print only errors and the final table');
}

function backendOption(): Option {
  return new Option('--backend <name>', 'TensorFlow.js backend (default: the file\'s runtime.backend, else auto); part of every job key').choices(['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu']);
}

function positiveInt(flag: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new CommanderError(EXIT.usage, 'kdx.invalidArgument', `error: ${flag} must be a whole number >= 1 (got "${value}")`);
    return n;
  };
}

function parseThreads(value: string): number | 'auto' {
  const n = Number(value);
  if (value === 'auto') return value;
  if (!Number.isInteger(n) || n < 1) throw new CommanderError(EXIT.usage, 'kdx.invalidArgument', `error: --threads must be auto or a whole number >= 1 (got "${value}")`);
  return n;
}

export function buildProgram(): Command {
  const program = new Command('kdx')
    .description('Declarative knowledge-distillation experiments on TensorFlow.js: one YAML file, then `kdx run` or `kdx sweep`.')
    .version(pkg.version, '-v, --version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  experimentOptions(program.command('validate').argument('<file>', 'experiment file (YAML)'))
    .description('check an experiment file: syntax, schema, references, the stage graph and the shapes')
    .action(async (file: string, options) => (await import('./commands/validate.js')).validate(file, options));

  experimentOptions(program.command('plan').argument('<file>', 'experiment file (YAML)'))
    .description('show the stages in execution order, their edges, job keys, and each model\'s layers, shapes and parameters')
    .option('--cache-dir <dir>', 'store to look up cached jobs in (default $KDX_CACHE, else .kdx/cache)')
    .addOption(backendOption())
    .option('--threads <n>', 'plan for this many threads per job, or auto (default: the file\'s runtime.threads, else auto); part of every job key', parseThreads)
    .action(async (file: string, options) => (await import('./commands/plan.js')).plan(file, options));

  executionOptions(experimentOptions(program.command('run').argument('<file>', 'experiment file (YAML)')))
    .description('train every stage of an experiment (cached jobs are reused, unfinished ones resumed)')
    .action(async (file: string, options) => (await import('./commands/run.js')).run(file, options));

  executionOptions(experimentOptions(program.command('sweep').argument('[file]', 'experiment file (default: the last run\'s, else the only file in experiments/)')))
    .description('run an experiment over a grid of values and print one results table')
    .option('--grid <key=values...>', 'KEY=V1,V2,... or KEY=range(start,stop[,step]) (stop excluded, as in Python and Hydra); keys as for --set')
    .option('--dry-run', 'list the trials and which of their jobs are cached, run nothing')
    .action(async (file: string | undefined, options) => (await import('./commands/sweep.js')).sweep(file, options));

  program
    .command('results')
    .argument('[run-dir]', 'a run or sweep directory (default: the latest)')
    .option('--runs-dir <dir>', 'where run directories are', 'runs')
    .option('--format <format>', 'text, markdown or csv', 'text')
    .description('print the results table of a past run or sweep')
    .action(async (runDir: string | undefined, options) => (await import('./commands/results.js')).results(runDir, options));

  const cache = program.command('cache').description('look after the store of finished jobs: ls, verify, gc, du');
  const cacheDir = (command: Command) => command.option('--cache-dir <dir>', 'the store (default $KDX_CACHE, else .kdx/cache)');
  cacheDir(cache.command('ls'))
    .description('list finished entries: key, stage, experiment, size, age')
    .action(async (options) => (await import('./commands/cache.js')).cacheLs(options));
  cacheDir(cache.command('verify'))
    .description('check every entry against its recorded sizes and sha256; move damaged ones aside (exit 1 if any)')
    .action(async (options) => (await import('./commands/cache.js')).cacheVerify(options));
  cacheDir(experimentOptions(cache.command('gc').argument('<files...>', 'experiment files whose results to keep')))
    .description('remove entries, logits and unfinished work that the given experiment files (and their sweep grids) do not use')
    .option('--dry-run', 'say what would be removed, remove nothing')
    .action(async (files: string[], options) => (await import('./commands/cache.js')).cacheGc(files, options));
  cacheDir(cache.command('du'))
    .description('disk usage of the store, by part')
    .action(async (options) => (await import('./commands/cache.js')).cacheDu(options));

  program
    .command('report')
    .argument('[run-dirs...]', 'run or sweep directories (default: the latest); several are shown side by side')
    .option('--runs-dir <dir>', 'where run directories are', 'runs')
    .option('-o, --out <file>', 'where to write the page (default: report.html in the run directory; with several, ./report.html)')
    .description('write report.html: learning curves, the comparison of stages, a sweep\'s heatmaps, confusion matrices')
    .action(async (runDirs: string[], options) => (await import('./commands/report.js')).report(runDirs, options));

  program
    .command('prune')
    .description('delete old run directories, keeping the newest (the store of finished jobs is not touched)')
    .option('--keep <n>', 'run directories to keep', '10')
    .option('--runs-dir <dir>', 'where run directories are', 'runs')
    .option('--dry-run', 'list what would be deleted, delete nothing')
    .action(async (options) => (await import('./commands/prune.js')).prune(options));

  program
    .command('doctor')
    .description('say what this machine can train on: each backend, whether it loads and why not, the WebGPU adapters, and the reference student\'s training speed on each')
    .option('--json', 'print one JSON object')
    .option('--no-measure', 'skip the few seconds of training on each backend')
    .action(async (options) => (await import('./commands/doctor.js')).doctor(options));

  program
    .command('__worker', { hidden: true })
    .action(async () => (await import('./commands/worker.js')).worker());

  program
    .command('__slurm-job', { hidden: true })
    .argument('<dir>', 'the attempt directory in the store')
    .action(async (dir: string) => (await import('./commands/slurm-job.js')).slurmJob(dir));

  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (error) {
    return reportError(error);
  }
}

function reportError(error: unknown): number {
  if (error instanceof CommanderError) {
    // Commander has printed its own message (or the help / version) already.
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return EXIT.ok;
    if (error.code === 'kdx.invalidArgument') process.stderr.write(`${error.message}\n`);
    return EXIT.usage;
  }
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.report()}\n`);
    return error.exitCode;
  }
  const user = asUserError(error);
  if (user) {
    if (user.message) process.stderr.write(`kdx: ${user.message}\n`); // empty: the reporter has said it
    return user.exitCode;
  }
  const stack = error instanceof Error ? error.stack ?? error.message : String(error);
  process.stderr.write(`${stack}\n\nkdx: this is a bug in kdx, not in your experiment; please report it with the lines above.\n`);
  return EXIT.failure;
}

// `kdx run --json | head`: when the reader goes away, stop quietly, as command-line tools do. Locks are
// released on exit and the last finished epoch's checkpoint stands.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(EXIT.ok);
    throw error;
  });
}

process.exitCode = await main(process.argv);
