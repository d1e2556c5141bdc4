// Opens a report in a real browser (Debian's chromium, driven by
// playwright-core): it must load from file:// with no console error, no
// page error and no request beyond the file itself, and render its charts;
// and every view of every chart over time must draw data points inside
// the migration (issue 20: the timelines used to be an empty grid with a
// sliver at the right edge). The browser lays the SVG out, so the check is
// on screen positions: each view carries an invisible rect over the
// migration (migration_span_*), and points sampled along the view's marks
// (getPointAtLength, mapped by getScreenCTM) must fall inside it.
// The screenshot is kept as test-artifacts/report.png for a person to look at.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
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

/**
 * Evaluated in the page (a string: this project compiles without the DOM
 * library). For each figure over time, each migration_span_* rect, and the
 * marks beside it in its view (rules and labels aside): how many points
 * sampled along those marks fall inside the rect's screen span.
 */
const POINTS_IN_MIGRATION = `(() => {
  const out = [];
  for (const fig of document.querySelectorAll('figure[data-migration-s]')) {
    for (const bandGroup of fig.querySelectorAll('g[class*="migration_span_"]')) {
      const bandPath = bandGroup.querySelector('path');
      if (!bandPath) continue;
      const b = bandPath.getBoundingClientRect();
      const band = (bandGroup.getAttribute('class').match(/migration_span_([a-z0-9_]+)_marks/) || [])[1];
      let marks = 0;
      let inside = 0;
      for (const g of bandGroup.parentElement.children) {
        const cls = g.getAttribute('class') || '';
        // A mark's own group, or the group per series vega wraps lines in.
        if (g === bandGroup || !(cls.includes('role-mark') || cls.includes('role-scope')) || cls.includes('mark-rule') || cls.includes('mark-text')) continue;
        for (const el of g.querySelectorAll('path, line')) {
          if (el.closest('g.mark-rule, g.mark-text') || el.classList.contains('background') || !(el.getAttribute('d') || el.tagName === 'line')) continue;
          marks++;
          const m = el.getScreenCTM();
          const pts = [];
          if (el.tagName === 'line') {
            pts.push([el.x1.baseVal.value, el.y1.baseVal.value]);
          } else {
            const len = el.getTotalLength();
            for (let k = 0; k <= 40; k++) { const p = el.getPointAtLength((len * k) / 40); pts.push([p.x, p.y]); }
          }
          for (const [x, y] of pts) {
            const sx = m.a * x + m.c * y + m.e;
            if (sx >= b.left - 0.5 && sx <= b.right + 0.5) { inside++; break; }
          }
        }
      }
      // The view's plot area: the background of the group item the band's mark sits in.
      const bg = bandGroup.parentElement.parentElement.querySelector(':scope > path.background');
      const plot = bg ? bg.getBoundingClientRect() : b;
      const covered = Math.max(0, Math.min(b.right, plot.right) - Math.max(b.left, plot.left)) / plot.width;
      out.push({ chart: fig.getAttribute('data-chart'), band, marks, inside, covered });
    }
  }
  return out;
})()`;

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
        `({ figures: document.querySelectorAll('figure[data-chart] svg').length, bars: document.querySelectorAll('g.convergence_0_marks path').length, title: document.title })`,
      )) as { figures: number; bars: number; title: string };
      expect(drawn.figures).toBe(6);
      expect(drawn.bars).toBeGreaterThan(0);
      expect(drawn.title).toContain('shadow vs hap vs pml');
      const views = (await page.evaluate(POINTS_IN_MIGRATION)) as { chart: string; band: string; marks: number; inside: number; covered: number }[];
      // Every chart over time, and in each at least one view per run.
      expect(new Set(views.map((v) => v.chart))).toEqual(new Set(['rounds', 'throughput', 'exits']));
      expect(views.filter((v) => v.chart === 'throughput')).toHaveLength(4);
      expect(views.filter((v) => v.chart === 'exits')).toHaveLength(3 + 1);
      expect(views.filter((v) => v.chart === 'rounds').length).toBeGreaterThanOrEqual(3);
      for (const v of views) {
        expect(v.marks, `${v.chart} ${v.band}: no marks`).toBeGreaterThan(0);
        expect(v.inside, `${v.chart} ${v.band}: no data point inside the migration`).toBeGreaterThan(0);
        // The migration fills the view (a zoomed Gantt lies inside it: all of it).
        expect(v.covered, `${v.chart} ${v.band}: the migration covers only part of the view`).toBeGreaterThan(0.85);
      }
      // The migration fills the timelines: a twentieth of its span either side, no more.
      const html = readFileSync(out, 'utf8');
      const [w0, w1] = /data-window-s="([^"]+)"/.exec(html)![1]!.split(' ').map(Number);
      const [m0, m1] = /data-migration-s="([^"]+)"/.exec(html)![1]!.split(' ').map(Number);
      expect((m1! - m0!) / (w1! - w0!)).toBeGreaterThan(0.9);
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
