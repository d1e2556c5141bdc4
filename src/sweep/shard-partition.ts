/**
 * Deterministic partitions of a sweep for N machines: every shard computes
 * the same partition from the grid alone (no coordinator), and the shards'
 * runs together are the grid's, each exactly once.
 *
 * Balanced by estimated cost, not count: longest processing time first
 * (Graham's LPT rule, within 4/3 of the best makespan), ties broken by
 * grid order. Runs that share a guest stay together when there are at
 * least as many guests as shards, since each shard generates the guests
 * of its runs itself; with fewer guests than shards, runs are spread one
 * by one and a guest may be generated on more than one machine.
 */
export interface ShardItem {
  readonly index: number;
  readonly guestKey: string;
  /** This run's own cost. */
  readonly cost: number;
  /** What generating its guest costs (paid once per shard that has runs of the guest). */
  readonly guestCost: number;
}

export interface ShardSpec {
  /** 0-based. */
  readonly k: number;
  readonly n: number;
}

/** The grid indices of shard k of n, in grid order. */
export function shardIndices(items: readonly ShardItem[], shard: ShardSpec): number[] {
  const groups = new Map<string, ShardItem[]>();
  for (const it of items) {
    const g = groups.get(it.guestKey);
    if (g) g.push(it);
    else groups.set(it.guestKey, [it]);
  }
  const units: { first: number; cost: number; members: ShardItem[] }[] =
    groups.size >= shard.n
      ? [...groups.values()].map((m) => ({ first: m[0]!.index, cost: m[0]!.guestCost + m.reduce((a, x) => a + x.cost, 0), members: m }))
      : items.map((x) => ({ first: x.index, cost: x.cost + x.guestCost, members: [x] }));
  units.sort((a, b) => b.cost - a.cost || a.first - b.first);
  const load = new Array<number>(shard.n).fill(0);
  const mine: number[] = [];
  for (const u of units) {
    let best = 0;
    for (let s = 1; s < shard.n; s++) if (load[s]! < load[best]!) best = s;
    load[best]! += u.cost;
    if (best === shard.k) for (const m of u.members) mine.push(m.index);
  }
  return mine.sort((a, b) => a - b);
}

/** `K/N` as the command line takes it (0 <= K < N), or undefined when the text is not that. */
export function parseShard(text: string): ShardSpec | undefined {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!m) return undefined;
  const k = Number(m[1]);
  const n = Number(m[2]);
  if (!(n >= 1 && k < n && n <= 1_000_000)) return undefined;
  return { k, n };
}
