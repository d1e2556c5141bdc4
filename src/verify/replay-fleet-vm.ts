import type { FleetVmFooter } from '../api/record-fleet.js';
import { simulationSetup } from '../api/simulation-setup.js';
import { copyRunBatch, type RunBatch, RUN_COLUMNS } from '../events/run-batch.js';
import { RUN_EVENT_KIND_NAMES } from '../events/run-event-kind.js';
import { FleetMember, type MemberRecorder } from '../fleet/fleet-member.js';
import { ReplayedShares, ReplayLeftRecord } from '../fleet/replayed-shares.js';
import type { VmEnd, VmInput, VmInputLog } from '../fleet/vm-inputs.js';
import { VmMigration } from '../fleet/vm-migration.js';
import type { MigrationSummary } from '../reducers/summary.js';
import { peekFooter } from '../trace/footer-peek.js';
import { TraceError } from '../trace/trace-error.js';
import { TraceReader } from '../trace/trace-reader.js';
import type { TraceHeader } from '../trace/trace-records.js';
import { stepProgress } from '../util/progress-step.js';
import { firstBatchDifference } from './batch-difference.js';
import { headerOrigin } from './header-workload.js';
import { openRunTrace } from './open-run-trace.js';
import type { ReplayDifference, ReplayResult } from './replay.js';
import { replayVerify } from './replay.js';

/** Whether a run trace is one VM's of a recorded fleet (its inputs are in its footer). */
export function isFleetVmTrace(h: TraceHeader): boolean {
  return h.traceKind === 'run' && h.run !== undefined && typeof h.run['fleet'] === 'object';
}

export interface FleetVmReplay extends ReplayResult {
  readonly summaryIdentical: boolean;
  readonly summary?: MigrationSummary;
  /** The replayed run's input log and ending (the fleet's check solves the shares again from them). */
  readonly log?: VmInputLog;
  readonly end?: VmEnd;
  /** The remaining bytes the controller read, read again. */
  readonly readings?: readonly (readonly [number, number])[];
}

/**
 * The footer's record of the VM's inputs, read first (a replay needs them
 * before the first step): by hopping over the chunks (footer-peek.ts), or,
 * where that finds no footer, by reading the whole file, whose errors say
 * what is wrong with it. The replay's own read checks the footer again.
 */
function readFleetFooter(file: string): { fleet: FleetVmFooter; summary: unknown } {
  const footer = peekFooter(file) ?? fullyReadFooter(file);
  const run = (footer['run'] ?? {}) as Record<string, unknown>;
  const fleet = run['fleet'] as FleetVmFooter | undefined;
  if (!fleet || !Array.isArray(fleet.inputs) || !Array.isArray(fleet.own) || !Number.isSafeInteger(fleet.steps)) {
    throw new TraceError(file, 'a fleet VM trace without its inputs (footer run.fleet)', undefined, 'footer', 'the file was altered, or written by another program; record it again');
  }
  return { fleet, summary: run['summary'] };
}

function fullyReadFooter(file: string): Record<string, unknown> {
  const reader = TraceReader.open(file, { verifyDigest: false });
  try {
    while (reader.nextChunk());
    return reader.footer as unknown as Record<string, unknown>;
  } finally {
    reader.close();
  }
}

/**
 * `migsim replay --verify` of one VM's run trace from `fleet --record`:
 * the VM's run again, alone. Its guest events come from the trace (and,
 * for a built-in workload, are first regenerated and compared); the
 * orchestrator's calls and its stream's shares come from the footer's
 * input log, each applied between the same two steps of the VM as in the
 * fleet, and its own network calls get their recorded shares back
 * (replayed-shares.ts). Every run event, the summary, the input log the
 * replay writes again and the migration's ending must be the recorded
 * ones.
 */
export function replayFleetVmVerify(file: string, onProgress?: (fraction: number) => void): FleetVmReplay {
  const probe = TraceReader.open(file);
  probe.close();
  if (headerOrigin(file, probe.header) === 'built-in') {
    const guest = replayVerify(file, stepProgress(onProgress, 0, 0.5));
    if (!guest.identical) return { ...guest, summaryIdentical: false };
  }
  const { fleet, summary: recordedSummary } = readFleetFooter(file);
  const { reader, header, spec } = openRunTrace(file);
  const setup = simulationSetup(header, { tracker: spec.tracker, superpages: spec.superpages, p2m: spec.p2m, costs: spec.costs, ...(spec.shadowOos ? { shadowOos: true } : {}), ...(spec.kvm ? { kvm: spec.kvm } : {}) });
  const derived: RunBatch[] = [];
  const recorded: RunBatch[] = [];
  let chunks = 0;
  let events = 0;
  let runChunk = 0;
  let diff: ReplayDifference | undefined;
  const drain = (): void => {
    while (!diff && derived.length > 0 && recorded.length > 0) {
      const rec = recorded.shift()!;
      diff = firstBatchDifference(runChunk, events, rec, derived.shift()!, RUN_COLUMNS, RUN_EVENT_KIND_NAMES);
      runChunk++;
      events += rec.count;
    }
  };
  const progress = stepProgress(onProgress, 0.5, 0.5);
  const pull = {
    next() {
      for (let c = reader.nextChunk(); c; c = reader.nextChunk()) {
        chunks++;
        progress?.(reader.fractionRead);
        if (c.stream === 'guest') return c.batch;
        recorded.push(copyRunBatch(c.batch));
        drain();
      }
      return undefined;
    },
    close() {},
  };
  let summary: MigrationSummary | undefined;
  const sink: MemberRecorder = {
    started() {},
    guest() {},
    run(b) {
      derived.push(copyRunBatch(b));
      drain();
    },
    finished(s) {
      summary = s;
    },
    dropped() {},
  };
  let nowNs = 0;
  const mig = new VmMigration(0, new ReplayedShares(fleet.own), () => {}, () => nowNs);
  const member = new FleetMember(mig, setup, pull, sink);
  const left = (column: string, rec: string, got: string): ReplayDifference => ({ chunk: runChunk, event: 0, eventOverall: events, column, recorded: rec, regenerated: got });
  try {
    let i = 0;
    for (let k = 0; !diff; k++) {
      while (i < fleet.inputs.length && fleet.inputs[i]!.step === k) {
        const input = fleet.inputs[i++]!;
        nowNs = input.atNs;
        apply(member, mig, input);
      }
      if (k === fleet.steps) break;
      if (mig.nextActionNs === Infinity) {
        diff = left('(fleet steps)', `${fleet.steps} steps`, `none due after step ${k}`);
        break;
      }
      member.step();
    }
    if (!diff && i < fleet.inputs.length) diff = left('(fleet inputs)', `input ${i} after step ${fleet.inputs[i]!.step}`, `the run ended after ${fleet.steps} steps`);
    if (!diff) member.finish();
    // The guest events the fleet never folded follow in the trace: read them, and the run chunks among them.
    while (!diff && pull.next());
    drain();
  } catch (e) {
    if (!(e instanceof ReplayLeftRecord)) throw e;
    diff = left('(network)', 'the recorded calls', e.message);
  } finally {
    reader.close();
  }
  if (!diff && derived.length > 0) diff = left('(end)', 'end of run events', `${derived[0]!.count} more run events`);
  if (!diff && recorded.length > 0) diff = left('(end)', `${recorded[0]!.count} more run events`, 'end of run events');
  let summaryIdentical = false;
  if (!diff && summary) {
    summaryIdentical = JSON.stringify(recordedSummary) === JSON.stringify(summary);
    if (!summaryIdentical) diff = { chunk: -1, event: 0, eventOverall: events, column: '(summary)', recorded: 'recorded summary', regenerated: 'a different summary' };
  }
  const log = mig.log;
  const end = mig.started ? mig.ending() : undefined;
  if (!diff) {
    const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
    if (!same({ steps: fleet.steps, inputs: fleet.inputs, own: fleet.own }, { steps: log.steps, inputs: log.inputs, own: log.own })) diff = left('(fleet inputs)', 'the recorded input log', 'a different one');
    else if (!same(fleet.end, end)) diff = left('(fleet ending)', JSON.stringify(fleet.end), JSON.stringify(end));
  }
  const digest = (s: unknown) => (s as { stateDigest?: string } | undefined)?.stateDigest ?? '';
  return {
    identical: !diff,
    chunks,
    events,
    recordedDigest: digest(recordedSummary),
    regeneratedDigest: digest(summary),
    summaryIdentical,
    ...(summary ? { summary } : {}),
    log,
    readings: mig.readings,
    ...(end ? { end } : {}),
    ...(diff ? { firstDifference: diff } : {}),
  };
}

/** Feeds one recorded input back into the VM, as the fleet gave it. */
function apply(member: FleetMember, mig: VmMigration, input: VmInput): void {
  switch (input.op) {
    case 'start':
      member.start(input.atNs, input.from, input.to, input.options);
      break;
    case 'share':
      mig.replayShare(input.seq, input.atNs, input.bytesPerSec);
      break;
    case 'downtime-limit':
      mig.setDowntimeLimit(input.ns);
      break;
    case 'max-bandwidth':
      mig.setMaxBandwidth(input.bytesPerSec);
      break;
    case 'postcopy':
      mig.startPostcopy(input.reason);
      break;
    case 'pause':
      mig.pause(input.reason, input.pauseAtNs);
      break;
    case 'abort':
      mig.abort(input.reason);
      break;
    case 'read':
      mig.figures();
      break;
  }
}
