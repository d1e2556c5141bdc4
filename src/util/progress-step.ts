/**
 * The `onProgress` of one step of a longer piece of work: the step's own
 * share done (0..1) becomes the whole's, the step covering `share` of the
 * whole from `from`. Undefined when no one is listening, so the step can
 * skip its reports.
 */
export function stepProgress(onProgress: ((fraction: number) => void) | undefined, from: number, share: number): ((fraction: number) => void) | undefined {
  return onProgress && ((f: number) => onProgress(from + f * share));
}
