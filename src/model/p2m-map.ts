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

/**
 * The map built last, while something still holds it: the guest kernel and
 * the MMU of one run each ask for the same map (same size, seed and
 * stream), and a PV guest's maps cost 12 bytes a guest page (4 for the p2m,
 * 4 for each of two host frames in the m2p) plus 8 while they are built.
 * Nothing writes into a map once built, so sharing it changes no result.
 */
let lastBuilt: { readonly key: string; readonly map: WeakRef<P2mMap> } | undefined;

export function makeP2mMap(memPages: number, seed: number, streamName = 'p2m'): P2mMap {
  const key = `${memPages}/${seed}/${streamName}`;
  const kept = lastBuilt?.key === key ? lastBuilt.map.deref() : undefined;
  if (kept !== undefined) return kept;
  const map = buildP2mMap(memPages, seed, streamName);
  lastBuilt = { key, map: new WeakRef(map) };
  return map;
}

function buildP2mMap(memPages: number, seed: number, streamName: string): P2mMap {
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
