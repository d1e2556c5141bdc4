// Checks that `migsim run` shows a progress bar on a terminal once it has
// run for its delay (on stderr, stdout clean), and none on a pipe.
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';

async function run(isTty: boolean, ...argv: string[]) {
  let out = '';
  let err = '';
  // No delay: the bar shows from the first batch, however fast the run.
  const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t), isTty, progressDelayMs: 0 });
  return { code, out, err };
}

// 2 M events of hot-set under hap: tens of batches, so the bar is redrawn.
const args = ['run', 'hot-set', '--tracker', 'hap', '--duration', '2s', '--mem', '64MiB', '--seed', '1', '--round', '1s'];

describe('run progress', () => {
  it('a terminal gets a bar on stderr and stdout stays clean', async () => {
    const r = await run(true, ...args);
    expect(r.code).toBe(0);
    expect(r.err).toContain('run hot-set under hap [');
    expect(r.out).not.toContain('[');
  });

  it('a pipe gets no bar', async () => {
    const r = await run(false, ...args);
    expect(r.err).toBe('seed 1\n');
  });
});
