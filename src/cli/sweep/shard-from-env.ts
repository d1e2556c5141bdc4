import { parseShard, type ShardSpec } from '../../sweep/shard-partition.js';
import { UsageError } from '../cli-failure.js';

/**
 * The shard a batch scheduler gave this process, when `--shard` is not
 * given:
 *   Slurm job arrays: SLURM_ARRAY_TASK_ID of SLURM_ARRAY_TASK_COUNT, the
 *     id counted from SLURM_ARRAY_TASK_MIN (an array 1-8 is shards 0..7);
 *   Kubernetes Indexed Jobs: JOB_COMPLETION_INDEX, and the number of
 *     completions, which Kubernetes does not put in the environment: the
 *     manifest passes .spec.completions as JOB_COMPLETIONS (see README).
 * Neither: the whole grid (shard 0 of 1).
 */
export function shardFromEnv(flag: string | undefined, env: Readonly<Record<string, string | undefined>>): ShardSpec {
  if (flag !== undefined) {
    const s = parseShard(flag);
    if (!s) throw new UsageError(`--shard must be K/N with 0 <= K < N (0/4 is the first of four), got '${flag}'`);
    return s;
  }
  const slurmId = env['SLURM_ARRAY_TASK_ID'];
  if (slurmId !== undefined) {
    const count = env['SLURM_ARRAY_TASK_COUNT'];
    const min = env['SLURM_ARRAY_TASK_MIN'] ?? '0';
    const s = parseShard(`${Number(slurmId) - Number(min)}/${count}`);
    if (!s) throw new UsageError(`SLURM_ARRAY_TASK_ID=${slurmId} (min ${min}) of SLURM_ARRAY_TASK_COUNT=${String(count)} is not a shard: submit the sweep as one array with --array=0-(N-1), or give --shard K/N`);
    return s;
  }
  const index = env['JOB_COMPLETION_INDEX'];
  if (index !== undefined) {
    const completions = env['JOB_COMPLETIONS'];
    const s = parseShard(`${index}/${completions}`);
    if (!s) throw new UsageError(`JOB_COMPLETION_INDEX=${index} needs JOB_COMPLETIONS set to the Job's .spec.completions (got ${String(completions)}), or give --shard K/N`);
    return s;
  }
  return { k: 0, n: 1 };
}
