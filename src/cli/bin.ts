#!/usr/bin/env node
import { processIo } from './cli-io.js';
import { main } from './main.js';
import { installTemporaryCleanup } from './temporary-janitor.js';

// Output goes by descriptor (processIo, src/cli/stdio-write.ts), which also
// stops quietly when stdout's reader went away (`migsim inspect x.mst | head`).
installTemporaryCleanup();

main(process.argv.slice(2), processIo).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    // A bug, not a user error: keep the stack for the report.
    processIo.err(`migsim: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exitCode = 70;
  },
);
