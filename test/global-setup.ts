// Before the tests: the bundled command line (dist/cli, what `migsim`
// runs) is made again from dist/src when tsc has built since it was made,
// so tests that start the CLI as a process run the code tsc just built,
// also after a build by tsc alone. A bundle newer than everything it is
// made from is left alone: two vitest runs at once in one checkout would
// otherwise rewrite the files under each other's running tests.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The newest modification time of a file below `dir` (0 for none). */
function newestBelow(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) newest = Math.max(newest, statSync(join(e.parentPath, e.name)).mtimeMs);
  }
  return newest;
}

/** When the bundle was finished: its module list is the last file the bundler writes (0 when there is none). */
function bundledAt(cli: string): number {
  const done = join(cli, 'bundle-modules.json');
  return existsSync(done) ? statSync(done).mtimeMs : 0;
}

export default function setup(): void {
  const root = join(import.meta.dirname, '..');
  // Without dist/src the tests that need the built CLI say so themselves.
  if (!existsSync(join(root, 'dist', 'src', 'cli', 'bin.js'))) return;
  const script = join(root, 'scripts', 'bundle-cli.mjs');
  const inputs = Math.max(newestBelow(join(root, 'dist', 'src')), statSync(script).mtimeMs);
  if (bundledAt(join(root, 'dist', 'cli')) > inputs) return;
  execFileSync(process.execPath, [script], { cwd: root, stdio: 'inherit' });
}
