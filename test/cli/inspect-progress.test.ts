// Checks the progress of `migsim inspect`: inspect() tells onProgress the
// share of the trace read, once per chunk; the command draws it as a bar
// on stderr on a terminal, stdout byte for byte what a pipe gets, and
// draws none with --json or on a pipe.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { inspect } from '../../src/api/inspect.js';
import { expectRisingShares } from '../helpers/progress-fractions.js';
import { recordSmallHotSet } from '../helpers/small-trace.js';
import { tempDir } from '../helpers/temp-dir.js';
import { BAR_CLEARED, runCliAt } from './cli-run.js';

const dir = tempDir();
const trace = join(dir, 'hs.mst');

beforeAll(() => recordSmallHotSet(trace));

describe('inspect progress', () => {
  it('inspect() reports the share of the trace read, once per chunk', () => {
    const shares: number[] = [];
    const report = inspect(trace, (f) => shares.push(f));
    expect(shares).toHaveLength(report.footer.chunks);
    expectRisingShares(shares, 0.99);
  });

  it('a terminal gets a bar on stderr, cleared before the report, and stdout is what a pipe gets', async () => {
    const tty = await runCliAt('terminal', 'inspect', trace);
    expect(tty.code).toBe(0);
    expect(tty.err).toContain('inspect [');
    expect(tty.err.endsWith(BAR_CLEARED)).toBe(true);
    expect(tty.out).toBe((await runCliAt('pipe', 'inspect', trace)).out);
  });

  it('no bar with --json on a terminal, nor on a pipe (where a terminal draws one)', async () => {
    expect((await runCliAt('terminal', 'inspect', trace)).err).toContain('inspect [');
    const json = await runCliAt('terminal', 'inspect', trace, '--json');
    expect(json.code).toBe(0);
    expect(json.err).toBe('');
    expect(JSON.parse(json.out)).toMatchObject({ guestEvents: 200_001 });
    const pipe = await runCliAt('pipe', 'inspect', trace);
    expect(pipe.code).toBe(0);
    expect(pipe.err).toBe('');
  });
});
