// Opens a report in a real browser (Debian's chromium, driven by
// playwright-core): it must load from file:// with no console error, no
// page error and no request beyond the file itself, and render its charts.
// The screenshot is kept as test-artifacts/report.png for a person to look at.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { runCli } from '../cli/cli-run.js';
import { tempDir } from '../helpers/temp-dir.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(import.meta.dirname, '..', '..', 'test-artifacts');
const dir = tempDir();

describe('the HTML report in a browser', () => {
  it('opens in headless Chromium with no console errors and no network, and a screenshot is saved', async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: this test needs Debian's chromium package (apt-get update && apt-get install -y chromium)`);
    }
    const out = join(dir, 'report.html');
    const r = await runCli('report', '--compare', '--duration', '2s', '--mem', '256MiB', '--seed', '1', '-o', out);
    expect(r.code).toBe(0);

    const profile = mkdtempSync(join(tmpdir(), 'migsim-chromium-'));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1040, height: 900 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      const problems: string[] = [];
      const url = pathToFileURL(out).href;
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      page.on('request', (req) => {
        if (req.url() !== url) problems.push(`request: ${req.url()}`);
      });
      await page.goto(url, { waitUntil: 'load' });
      // Evaluated in the page (a string, as this project compiles without the DOM library).
      const drawn = (await page.evaluate(
        `({ figures: document.querySelectorAll('figure[data-chart] svg').length, bars: document.querySelectorAll('g.convergence_marks path').length, title: document.title })`,
      )) as { figures: number; bars: number; title: string };
      expect(drawn.figures).toBe(4);
      expect(drawn.bars).toBeGreaterThan(0);
      expect(drawn.title).toContain('shadow vs hap vs pml');
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'report.png'), fullPage: true });
      expect(problems).toEqual([]);
    } finally {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    }
    expect(existsSync(join(ARTIFACTS, 'report.png'))).toBe(true);
  }, 120_000);
});
