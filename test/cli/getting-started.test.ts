// What the README's first steps promise: after `npm ci && npm run build`,
// `npx migsim` runs this package's own command from the project (no
// download), and `npm start` shows the default comparison with a fixed
// seed, printed, so a newcomer sees the same figures every time.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { PROGRAM_VERSION } from '../../src/version.js';
import { BUILT_CLI } from '../helpers/spawn-cli.js';
import { runCli } from './cli-run.js';

const root = join(import.meta.dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: Record<string, string>; scripts: Record<string, string> };
const readme = readFileSync(join(root, 'README.md'), 'utf8');

describe('getting started', () => {
  it('npx migsim, from the project after the build, runs the built command (offline: never fetched from the registry)', async () => {
    expect(join(root, pkg.bin['migsim']!)).toBe(BUILT_CLI);
    expect(readFileSync(BUILT_CLI, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    const { stdout } = await promisify(execFile)('npx', ['--offline', '--no', '--', 'migsim', '--version'], { cwd: join(root, 'traces') });
    expect(stdout.trim()).toBe(PROGRAM_VERSION);
  });

  it("the README's examples run migsim as npx migsim, which works right after the install", () => {
    const commandLines = readme.split('\n').filter((l) => /^ {4}\S/.test(l) && /\bmigsim\b/.test(l));
    expect(commandLines.length).toBeGreaterThan(10);
    for (const l of commandLines) expect(l, l).not.toMatch(/(^ {4}|&& )migsim /);
  });

  it('npm start runs the default comparison with a fixed seed, and prints it', async () => {
    const m = /^node dist\/cli\/migsim\.js (compare .*)$/.exec(pkg.scripts['start']!);
    expect(m, pkg.scripts['start']).not.toBeNull();
    const args = m![1]!.split(' ');
    const seed = args[args.indexOf('--seed') + 1];
    expect(seed).toMatch(/^\d+$/);
    const r = await runCli(...args);
    expect(r.code).toBe(0);
    expect(r.err).toBe(`seed ${seed}\n`);
    expect(r.out).toContain(`seed ${seed}, xen policy`);
  });
});
