/**
 * The guest as configured cannot run what was asked of it: too little
 * memory for its kernel or its workload, or a size its kernel does not
 * support. The user's to fix with an option (--mem, --vcpus, --set), so the
 * CLI reports it as one line, not as an internal error.
 */
export class GuestResourceError extends RangeError {
  override readonly name = 'GuestResourceError';

  constructor(
    message: string,
    /** The guest ran out of memory (give it more with --mem). */
    readonly outOfMemory = false,
  ) {
    super(message);
  }
}
