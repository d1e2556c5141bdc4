import type { GuestType } from '../model/paging.js';
import { NARROW_FRAMES } from '../model/pte.js';
import { DirectTracker } from './tracker-direct.js';
import { ShadowTracker } from './tracker-shadow.js';
import { HapTracker } from './tracker-hap.js';
import { PmlTracker } from './tracker-pml.js';
import { KvmPmlTracker } from './tracker-kvm-pml.js';
import { KvmRingTracker } from './tracker-kvm-ring.js';
import { KvmWpTracker } from './tracker-kvm-wp.js';
import { KVM_TRACKERS, type Tracker, type TrackerEnv, type TrackerName } from './tracker.js';

export class TrackerPairingError extends Error {
  override readonly name = 'TrackerPairingError';
}

/**
 * Which guest can use which tracker (DESIGN section 6): a PV guest is put
 * into shadow mode only while log-dirty is on, so it takes shadow (or direct
 * for a non-live checkpoint); hap and pml need hardware-assisted paging and
 * so an HVM guest; an HVM guest always runs on a p2m, never direct.
 *
 * The shadow tracker reads guest PTEs of one word: an HVM guest of more than
 * 2^24 frames (64 GiB), whose PTEs have two (src/model/pte.ts), migrates
 * with hap or pml here.
 */
export function checkPairing(tracker: TrackerName, guest: GuestType, memPages = 0): void {
  if (tracker === 'shadow' && guest === 'hvm' && memPages > NARROW_FRAMES) {
    throw new TrackerPairingError(`tracker 'shadow' models HVM guests of at most 64 GiB (PTEs of one word); a larger guest migrates with 'hap' or 'pml'`);
  }
  if (guest === 'pv' && KVM_TRACKERS.includes(tracker)) {
    throw new TrackerPairingError(`tracker '${tracker}' is KVM's, which runs HVM guests under EPT only; a PV guest migrates with 'shadow'`);
  }
  if (guest === 'pv' && (tracker === 'hap' || tracker === 'pml')) {
    throw new TrackerPairingError(`tracker '${tracker}' needs an HVM guest (hardware-assisted paging); a PV guest migrates with 'shadow'`);
  }
  if (guest === 'hvm' && tracker === 'direct') {
    throw new TrackerPairingError("tracker 'direct' is PV-only (direct-mode page tables); an HVM guest uses 'hap', 'pml' or 'shadow'");
  }
}

const FACTORIES: Record<TrackerName, (env: TrackerEnv) => Tracker> = {
  direct: (env) => new DirectTracker(env),
  shadow: (env) => new ShadowTracker(env),
  hap: (env) => new HapTracker(env),
  pml: (env) => new PmlTracker(env),
  'kvm-wp': (env) => new KvmWpTracker(env),
  'kvm-pml': (env) => new KvmPmlTracker(env),
  'kvm-ring': (env) => new KvmRingTracker(env),
};

export function makeTracker(name: TrackerName, env: TrackerEnv): Tracker {
  checkPairing(name, env.guest.type, env.guest.memPages);
  // QEMU refuses the dirty-limit capability without the dirty ring (migrate_dirty_limit needs kvm_dirty_ring_enabled).
  if ((env.kvm?.dirtyLimitBytesPerSec ?? 0) > 0 && name !== 'kvm-ring') {
    throw new TrackerPairingError(`--dirty-limit needs KVM's dirty ring: use --tracker kvm-ring (tracker '${name}' has none)`);
  }
  return FACTORIES[name](env);
}
