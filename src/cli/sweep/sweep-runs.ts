import { createHash } from 'node:crypto';
import { Command, CommanderError } from 'commander';
import type { CliContext } from '../cli-io.js';
import { UsageError, userFacingMessage } from '../cli-failure.js';
import { addRunOptions, type TrackerRunInputs, type TrackerRunCliOptions } from '../commands/run-command.js';
import { trackerRunInputsSync as trackerRunInputs } from './tracker-run-inputs-sync.js';
import { checkPairing } from '../../reducers/make-tracker.js';
import type { TrackerName } from '../../reducers/tracker.js';
import { GridError, type GridValue } from '../../sweep/grid-file.js';
import type { GridPoint } from '../../sweep/grid-expand.js';

/**
 * A sweep's runs as `migsim run` would take them. Each grid point becomes
 * the argv of a `run` (`apache --tracker pml --bandwidth 10Gbit ...`),
 * parsed by the same commander options as `run` (addRunOptions), so a
 * grid value means exactly what the flag means, with the same defaults and
 * the same errors, here reported at the grid's line.
 */
export interface SweepRun {
  readonly index: number;
  /** Hash of the canonical parameters: the same run has the same id in any grid, shard or process. */
  readonly id: string;
  readonly argv: readonly string[];
  /**
   * The argv as `run` parses it (commander's values, every default filled
   * in): parsed once here, on the main thread, and handed to the thread
   * that runs the run (plain numbers, strings and booleans, so a worker gets
   * an exact copy). Parsing it again for every run and guest built a
   * commander Command of ~60 options each time, hot enough that every
   * thread spent TurboFan time compiling commander (about a quarter of a
   * sweep thread's optimising-compiler time on the sweep bench, V8's
   * --trace-opt).
   */
  readonly opts: RunCliOptions;
  /** The parsed options with every default, by name, plus the target: what the id hashes. */
  readonly params: Readonly<Record<string, string | number | boolean>>;
  /** Runs with the same key migrate the same guest events (same workload, seed and guest). */
  readonly guestKey: string;
  /** A relative cost (guest seconds weighted by tracker), for balancing shards. */
  readonly cost: number;
  /** The relative cost of generating its guest, in the same units. */
  readonly guestCost: number;
}

export type RunCliOptions = TrackerRunCliOptions & { tracker: TrackerName };

/** The seed of a grid that gives none (a run's seed must be fixed: `run` would draw a fresh one). */
export const DEFAULT_SWEEP_SEED = 1;

/** Boolean flags: a grid says `true` to give them and `false` to leave them out. */
const SWITCHES = new Set(['autoConverge', 'throttleTailslow', 'shadowOos', 'multifd', 'postcopyPreempt', 'switchoverAck']);
/** What a grid cannot set: `run` flags that are not part of a migration's parameters. */
const NOT_IN_GRIDS = new Set(['json', 'round', 'record', 'help']);

/** `downtimeLimit` -> `--downtime-limit`. */
function flagOf(name: string): string {
  return `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** The argv of a grid point, and for each value the line it came from (for errors). */
export function pointArgv(path: string, p: GridPoint): { argv: string[]; lines: Map<string, number>; targetLine: number } {
  const argv: string[] = [];
  const lines = new Map<string, number>();
  let target: GridValue | undefined;
  for (const [name, v] of [...p.values].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (name === 'workload' || name === 'trace') {
      if (target) throw new GridError(path, v.line, "give one of 'workload' and 'trace'");
      target = v;
      continue;
    }
    if (NOT_IN_GRIDS.has(name)) throw new GridError(path, v.line, `'${name}' is not a grid option (a sweep runs migrations and writes its own table)`);
    if (name.startsWith('set.')) {
      argv.push('--set', `${name.slice(4)}=${v.text}`);
      lines.set('--set', v.line);
      continue;
    }
    const flag = flagOf(name);
    lines.set(flag, v.line);
    if (SWITCHES.has(name)) {
      if (v.text !== 'true' && v.text !== 'false') throw new GridError(path, v.line, `${name}: expected true or false, got '${v.text}'`);
      if (v.text === 'true') argv.push(flag);
      continue;
    }
    argv.push(flag, v.text);
  }
  if (!target) throw new GridError(path, 1, "the run names no guest: give 'workload: NAME' or 'trace: FILE' under run (or as an axis)");
  // A run is a pure function of its parameters: no fresh seed as `run` would draw.
  if (!p.values.has('seed')) argv.push('--seed', String(DEFAULT_SWEEP_SEED));
  return { argv: [target.text, ...argv], lines, targetLine: target.line };
}

/**
 * The one `run` parser of this thread: commander restores a command's
 * defaults before each parse after the first (Command._prepareForParse,
 * commander 13 and later), so one Command serves every grid point; a
 * Command of ~60 options built per point was most of the time a
 * 1,000-point grid took to check (0.38 s of 0.38 s). `--set`'s collector
 * returns a new object each time (collectSetting), so no parse sees
 * another's settings.
 */
interface RunParser {
  readonly cmd: Command;
  parsed?: { target: string; opts: RunCliOptions };
  message: string;
}
let runParser: RunParser | undefined;

function theRunParser(): RunParser {
  if (runParser) return runParser;
  const p: RunParser = { cmd: new Command('run'), message: '' };
  p.cmd
    .argument('<target>')
    .exitOverride()
    .configureOutput({ writeOut: () => {}, writeErr: (t: string) => (p.message += t) })
    .action((target: string, opts: RunCliOptions) => {
      p.parsed = { target, opts };
    });
  addRunOptions(p.cmd);
  return (runParser = p);
}

/** The `run` options an argv gives (commander's parsing, defaults and checks), or a UsageError naming the flag. */
export function parseRunArgv(argv: readonly string[]): { target: string; opts: RunCliOptions } {
  const p = theRunParser();
  p.parsed = undefined;
  p.message = '';
  try {
    p.cmd.parse([...argv], { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) throw new UsageError((p.message.split('\n')[0] || e.message).replace(/^error: /, ''));
    throw e;
  }
  return p.parsed!;
}

const SILENT: CliContext = { io: { out: () => {}, err: () => {}, isTty: false }, argv: [], setExit: () => {} };

/** The guest source and run options of a sweep run's argv, as `run` builds them. */
export function runInputs(argv: readonly string[]): { opts: RunCliOptions; inputs: TrackerRunInputs } {
  const { target, opts } = parseRunArgv(argv);
  return { opts, inputs: inputsOf(target, opts) };
}

/** The guest source and run options of options `run` has parsed (parseRunArgv's). */
export function inputsOf(target: string, opts: RunCliOptions): TrackerRunInputs {
  return trackerRunInputs(SILENT, target, { ...opts, json: true });
}

/**
 * Relative cost of one run per guest-second and vCPU, by tracker (shadow
 * emulates every page-table write), and of generating the guest: measured
 * on the apache default, generating its events takes about four times a
 * HAP run over them.
 */
const TRACKER_WEIGHT: Readonly<Record<TrackerName, number>> = { shadow: 2, hap: 1, pml: 1, direct: 1.5, 'kvm-wp': 1, 'kvm-pml': 1, 'kvm-ring': 1 };
const GUEST_WEIGHT = 4;

/**
 * The runs of a grid's points, each checked as `run` would check it
 * before anything runs: a bad value is a GridError at its line.
 */
export function sweepRuns(path: string, points: readonly GridPoint[]): SweepRun[] {
  return points.map((p) => {
    const { argv, lines, targetLine } = pointArgv(path, p);
    const lineOf = (msg: string): number => {
      // Commander names the flag ('--bandwidth <rate>'); a pairing error the option ("tracker 'hap' needs ...").
      for (const [flag, line] of lines) if (msg.includes(`'${flag}`) || msg.includes(`${flag} `) || msg.startsWith(`${flag.slice(2)} '`)) return line;
      return targetLine;
    };
    try {
      const { opts, inputs } = runInputs(argv);
      const h = inputs.source.header;
      checkPairing(opts.tracker, h.guest.type);
      const params = canonicalParams(argv[0]!, opts, h.workload.seed);
      const guestKey = JSON.stringify({ target: argv[0], workload: h.workload, guest: h.guest });
      const guestSeconds = (h.workload.durationNs / 1e9) * h.guest.vcpus;
      return { index: p.index, id: runId(params), argv, opts, params, guestKey, cost: guestSeconds * TRACKER_WEIGHT[opts.tracker], guestCost: guestSeconds * GUEST_WEIGHT };
    } catch (e) {
      const m = userFacingMessage(e);
      if (m === undefined) throw e;
      throw new GridError(path, lineOf(m), m);
    }
  });
}

/** Every option with its default, the set parameters one by one, and the target: sorted, so that equal runs hash equal. */
function canonicalParams(target: string, opts: RunCliOptions, seed: number): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = { target, seed };
  for (const [k, v] of Object.entries(opts)) {
    if (k === 'json' || k === 'set' || v === undefined) continue;
    out[k] = v as string | number | boolean;
  }
  for (const [k, v] of Object.entries(opts.set ?? {})) out[`set.${k}`] = v;
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** 16 hex digits of SHA-256 over the canonical parameters' JSON. */
export function runId(params: Readonly<Record<string, unknown>>): string {
  return createHash('sha256').update(JSON.stringify(params)).digest('hex').slice(0, 16);
}
