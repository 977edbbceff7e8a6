/**
 * The one error type every format reader throws for bad input: truncated, malformed,
 * oversized or hostile bytes. The engine turns it into a rejection with this message as
 * the reason; any other error type escaping a reader is a bug.
 */
export class PackageFormatError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PackageFormatError';
  }
}

/** Throws a PackageFormatError when `condition` is false. */
export function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new PackageFormatError(message);
}
