import type { z } from 'zod';
import { ControllerSettingError } from './controller.js';

/** An orchestrator's settings checked by its schema; the first issue names its key (the scenario maps it to a line). */
export function parseSettings<T extends z.ZodType>(schema: T, settings: Readonly<Record<string, unknown>>): z.output<T> {
  const r = schema.safeParse(settings);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const path = issue.path as (string | number)[];
  const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
  const what = keys.length > 0 ? `unknown setting${keys.length > 1 ? 's' : ''} ${keys.map((k) => `'${k}'`).join(', ')}` : `${path.join('.')}: ${issue.message}`;
  throw new ControllerSettingError(keys.length > 0 ? [keys[0]!] : path, what);
}

/**
 * A Kubernetes resource.Quantity as KubeVirt's bandwidthPerMigration takes
 * it (64Mi, 1Gi, 500M, a bare number of bytes), in bytes.
 */
export function quantityBytes(text: string | number): number | undefined {
  if (typeof text === 'number') return text >= 0 ? text : undefined;
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*(Ki|Mi|Gi|Ti|k|K|M|G|T)?\s*$/.exec(text);
  if (!m) return undefined;
  const scale: Record<string, number> = { '': 1, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12 };
  return Math.round(Number(m[1]) * scale[m[2] ?? '']!);
}
