// The API's defaults are the command line's (issue "Results a user can
// trust", item 6): runMigration given only a tracker migrates a trace as
// `migsim run TRACE --tracker T` does, from half the guest events'
// duration, to the same state (the same trace once gave 33.4 ms of
// downtime through the API, started at 0, and 19.1 ms through the CLI).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { guestSource } from '../../src/api/guest-source.js';
import { runMigration } from '../../src/api/run-migration.js';
import { tempDir } from '../helpers/temp-dir.js';
import { runCli } from './cli-run.js';

describe('API defaults', () => {
  it('runMigration with only a tracker gives what migsim run gives with no options', async () => {
    const trace = join(tempDir('migsim-api-defaults-'), 'a.mst');
    expect((await runCli('record', 'apache', '--duration', '1s', '--mem', '128MiB', '--seed', '3', '-o', trace)).code).toBe(0);
    const cli = JSON.parse((await runCli('run', trace, '--tracker', 'hap', '--json')).out);
    const api = runMigration(guestSource(trace, { settings: {} } as Parameters<typeof guestSource>[1]), { tracker: 'hap' });
    expect(api.startNs).toBe(500_000_000);
    expect(cli.startNs).toBe(api.startNs);
    expect(cli.downtimeNs).toBe(api.downtimeNs);
    expect(cli.stateDigest).toBe(api.stateDigest);
  });
});
