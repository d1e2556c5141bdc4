import type { RunSpec } from '../api/record-run.js';
import { formatBytes, formatDurationNs } from '../model/units.js';
import type { TraceHeader } from '../trace/trace-records.js';

/**
 * A run is named by what it is (workload, tracker, policy, link), not by the
 * file it was read from: in a comparison, by what differs between the runs
 * ("xen" vs "qemu", "1 Gbit/s" vs "10 Gbit/s"), alone by what it is
 * ("apache under pml, xen policy").
 */

interface LabelledRun {
  readonly header: TraceHeader;
  readonly spec: RunSpec;
}

/** One property of a run a label can name, with how to write it. */
interface Facet {
  readonly name: string;
  readonly value: (r: LabelledRun) => string;
}

/** Bandwidth as links are sold: 1 Gbit/s, 250 Mbit/s. */
export function linkText(bytesPerSec: number): string {
  const bits = bytesPerSec * 8;
  if (bits >= 1e9) return `${+(bits / 1e9).toFixed(2)} Gbit/s`;
  return `${+(bits / 1e6).toFixed(2)} Mbit/s`;
}

const FACETS: readonly Facet[] = [
  { name: 'workload', value: (r) => r.header.workload.name },
  { name: 'parameters', value: (r) => Object.entries(r.header.workload.params).map(([k, v]) => `${k}=${v}`).join(' ') },
  { name: 'seed', value: (r) => `seed ${r.header.workload.seed}` },
  { name: 'guest', value: (r) => `${r.header.guest.type} ${r.header.guest.paging}, ${formatBytes(r.header.guest.memPages * 4096)}, ${r.header.guest.vcpus} vCPUs` },
  { name: 'tracker', value: (r) => r.spec.tracker },
  { name: 'superpages', value: (r) => `superpages ${r.spec.superpages}` },
  { name: 'p2m', value: (r) => `p2m ${r.spec.p2m}` },
  { name: 'shadow OOS', value: (r) => (r.spec.shadowOos ? 'OOS' : 'no OOS') },
  { name: 'policy', value: (r) => r.spec.migration.policy },
  { name: 'bandwidth', value: (r) => linkText(r.spec.migration.bandwidthBytesPerSec) },
  { name: 'start', value: (r) => `start ${formatDurationNs(r.spec.migration.startNs)}` },
  { name: 'max-bandwidth', value: (r) => `max-bandwidth ${formatBytes(r.spec.migration.maxBandwidthBytesPerSec)}/s` },
  { name: 'downtime-limit', value: (r) => `downtime-limit ${formatDurationNs(r.spec.migration.downtimeLimitNs)}` },
  { name: 'auto-converge', value: (r) => (r.spec.migration.autoConverge ? 'auto-converge' : 'no auto-converge') },
  { name: 'max-iters', value: (r) => `max-iters ${r.spec.migration.maxIters ?? 'default'}` },
  { name: 'epoch', value: (r) => `epoch ${formatDurationNs(r.spec.migration.epochNs)}` },
  { name: 'costs', value: (r) => JSON.stringify(r.spec.costs) },
];

/**
 * The properties that differ between the runs (none for one run). A
 * workload's parameters are its own: when the workloads differ, so do
 * they, and the workload's name says it.
 */
function differing(runs: readonly LabelledRun[]): Facet[] {
  const differ = FACETS.filter((f) => new Set(runs.map(f.value)).size > 1);
  return differ.some((f) => f.name === 'workload') ? differ.filter((f) => f.name !== 'parameters') : differ;
}

/** The names of the properties that differ between the runs (none for one run). */
export function differingFacets(runs: readonly LabelledRun[]): string[] {
  return differing(runs).map((f) => f.name);
}

/** What a run is, whole: "apache under pml, xen policy, 1 Gbit/s". */
export function describeRun(r: LabelledRun): string {
  return `${r.header.workload.name} under ${r.spec.tracker}, ${r.spec.migration.policy} policy, ${linkText(r.spec.migration.bandwidthBytesPerSec)}`;
}

/**
 * A label per run: the values of the properties that differ ("qemu, 10
 * Gbit/s"), or, when nothing does, what the run is; runs left with the same
 * label (a tracker listed twice) are numbered.
 */
export function runLabels(runs: readonly LabelledRun[]): string[] {
  const differ = differing(runs);
  const costsIndex = (r: LabelledRun) => [...new Set(runs.map((x) => JSON.stringify(x.spec.costs)))].indexOf(JSON.stringify(r.spec.costs)) + 1;
  const labels = runs.map((r) => (differ.length ? differ.map((f) => (f.name === 'costs' ? `cost model ${costsIndex(r)}` : f.value(r))).join(', ') : describeRun(r)));
  const seen = new Map<string, number>();
  const total = new Map<string, number>();
  for (const l of labels) total.set(l, (total.get(l) ?? 0) + 1);
  return labels.map((l) => {
    if (total.get(l)! < 2) return l;
    const n = (seen.get(l) ?? 0) + 1;
    seen.set(l, n);
    return `${l} #${n}`;
  });
}

/** What the runs share, as a phrase for a title: "apache, pml, xen policy". */
export function sharedText(runs: readonly LabelledRun[]): string {
  const first = runs[0];
  if (!first) return '';
  const differ = new Set(differingFacets(runs));
  const parts: string[] = [];
  if (!differ.has('workload')) parts.push(first.header.workload.name);
  if (!differ.has('tracker')) parts.push(first.spec.tracker);
  if (!differ.has('policy')) parts.push(`${first.spec.migration.policy} policy`);
  if (!differ.has('bandwidth')) parts.push(linkText(first.spec.migration.bandwidthBytesPerSec));
  return parts.join(', ');
}
