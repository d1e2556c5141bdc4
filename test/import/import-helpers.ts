// Helpers for the importer tests: the shared capture samples, a plain
// reading of a capture's records, and the guest writes of a trace.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GuestEventKind } from '../../src/events/guest-event-kind.js';
import { TraceReader } from '../../src/trace/trace-reader.js';

/** The real captures (copies of /work/shared/samples). */
export const SAMPLES = join(import.meta.dirname, 'samples');
export const sample = (name: string): string => join(SAMPLES, name);

/** A capture record read the simple way (strings), to check the importer against. */
export interface CaptureLine {
  readonly kind: string;
  readonly tNs: number;
  readonly pid: number;
  readonly pages: number[];
}

/** The records of an rtdirty capture, pages expanded. */
export function readCapture(file: string): CaptureLine[] {
  const out: CaptureLine[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
    const f = line.split(' ');
    if (!f[0] || f[0] === '#') continue;
    const tNs = Math.round(Number(f[1]) * 1e6);
    const pages: number[] = [];
    if ('BDbd'.includes(f[0])) {
      for (const r of f.slice(4)) {
        const [a, c] = r.split('+');
        for (let i = 0; i < Number(c ?? 1); i++) pages.push(parseInt(a!, 16) + i);
      }
    }
    out.push({ kind: f[0], tNs, pid: f[0] === 'S' ? -1 : Number(f[2]), pages });
  }
  return out;
}

/** Every guest event of a trace with its absolute time, and the root its vCPU had loaded. */
export interface TraceEvent {
  readonly tNs: number;
  readonly kind: number;
  readonly vcpu: number;
  readonly page: number;
  readonly arg: number;
  readonly root: number;
}

export function traceEvents(file: string): TraceEvent[] {
  const out: TraceEvent[] = [];
  const root = new Map<number, number>();
  TraceReader.open(file).forEachChunk((c) => {
    if (c.stream !== 'guest') return;
    const b = c.batch;
    let t = b.baseNs;
    for (let i = 0; i < b.count; i++) {
      t += b.dtNs[i]!;
      const kind = b.kind[i]!;
      if (kind === GuestEventKind.cr3Load) root.set(b.vcpu[i]!, b.page[i]!);
      out.push({ tNs: t, kind, vcpu: b.vcpu[i]!, page: b.page[i]!, arg: b.arg[i]!, root: root.get(b.vcpu[i]!) ?? -1 });
    }
  });
  return out;
}

/** User-space writes (x86-64: non-negative vpns) of a trace. */
export function userWrites(file: string): TraceEvent[] {
  return traceEvents(file).filter((e) => e.kind === GuestEventKind.write && e.page >= 0);
}
