/** A problem with what the user asked for, reported as one line and exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
