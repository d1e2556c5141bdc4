// Checks that an imported trace verifies: read in full without --source, and
// re-imported from its capture (plain or gzip) to the same digest with it; a
// different capture is refused as not the source.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../cli/cli-run.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir();
const samples = join(import.meta.dirname, 'samples');
const capture = join(samples, 'known_writer_50ms.trace');
const out = join(dir, 'kw.mst');

beforeAll(async () => {
  expect((await runCli('import', 'rtdirty', capture, '-o', out, '--seed', '4')).code).toBe(0);
});

describe('replay --verify of an imported trace', () => {
  it('without the capture, reads the whole trace and says how to compare with the capture', async () => {
    const r = await runCli('replay', out, '--verify');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/intact .* pass --source CAPTURE/);
  });

  it('with the capture, imports it again with the same seed and finds the same digest', async () => {
    const r = await runCli('replay', out, '--verify', '--source', capture);
    expect(r.code).toBe(0);
    expect(r.out).toContain('identical: re-imported');
  });

  it('a gzip capture is imported again as the import read it', async () => {
    const gz = join(dir, 'kw.trace.gz');
    writeFileSync(gz, gzipSync(readFileSync(capture)));
    const fromGz = join(dir, 'kw-gz.mst');
    expect((await runCli('import', 'rtdirty', gz, '-o', fromGz, '--seed', '4')).code).toBe(0);
    const r = await runCli('replay', fromGz, '--verify', '--source', gz);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('identical: re-imported');
  });

  it('another capture is not the source: one clear error, exit 2', async () => {
    const r = await runCli('replay', out, '--verify', '--source', join(samples, 'python_boot_10ms.trace'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/not the capture .* was imported from/);
  });
});
