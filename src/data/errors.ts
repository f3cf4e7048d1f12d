import { UserError } from '../errors.js';

/**
 * A problem with a dataset that the user can fix: files missing (and no way to download them), a corrupt
 * or truncated file, bad dataset options. The message is plain words and says what to do; the CLI prints
 * it without a stack trace and exits with status 1.
 */
export class DatasetError extends UserError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message);
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}
