import { deriveStream } from '../random/derive-stream.js';

/**
 * The pseudo-physical to machine map of a guest (Xen's p2m) and its inverse
 * (the m2p). A PV guest writes machine frames into its PTEs, so the map must
 * be the same for the workload that writes them and the MMU that walks them:
 * it is derived from the run's seed alone.
 *
 * Host memory is modelled as twice the guest's, and the guest's frames are
 * scattered over it, as a host that has run other domains would give them.
 */
export interface P2mMap {
  readonly pfnToMfn: Int32Array;
  /** -1 where the machine frame belongs to no pfn of this guest. */
  readonly mfnToPfn: Int32Array;
}

export function makeP2mMap(memPages: number, seed: number, streamName = 'p2m'): P2mMap {
  const hostFrames = memPages * 2;
  const rng = deriveStream(seed, streamName);
  // A partial Fisher-Yates over host frames picks memPages distinct mfns.
  const pool = new Int32Array(hostFrames);
  for (let i = 0; i < hostFrames; i++) pool[i] = i;
  const pfnToMfn = new Int32Array(memPages);
  for (let i = 0; i < memPages; i++) {
    const j = i + rng.belowLarge(hostFrames - i);
    const m = pool[j]!;
    pool[j] = pool[i]!;
    pool[i] = m;
    pfnToMfn[i] = m;
  }
  const mfnToPfn = new Int32Array(hostFrames).fill(-1);
  for (let p = 0; p < memPages; p++) mfnToPfn[pfnToMfn[p]!] = p;
  return { pfnToMfn, mfnToPfn };
}
