// Typed errors, mapped to exit codes in one place (src/cli.ts). A user's mistake is a UserError: its
// message is printed as is, without a stack trace. Anything else is kdx's own bug.

export const EXIT = { ok: 0, failure: 1, usage: 2, interrupted: 130 } as const;

export class UserError extends Error {
  constructor(message: string, readonly exitCode: number = EXIT.failure) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad command-line usage: an unknown flag, a malformed --set or --grid. Exit 2. */
export class UsageError extends UserError {
  constructor(message: string) {
    super(message, EXIT.usage);
  }
}

/** The run was stopped by the user (Ctrl-C, `q`). Exit 130. */
export class InterruptedError extends UserError {
  constructor(message = 'interrupted') {
    super(message, EXIT.interrupted);
  }
}

/** The run ended with failed jobs (each already reported by the reporters). Exit 1. */
export class RunFailedError extends UserError {}

/**
 * The machine refused an operation on a file: a full disk, a read-only or unwritable directory, too many
 * open files, a directory removed during the run. Not kdx's bug and not the experiment's: one line that
 * says what failed, on which path, and what to do. Exit 1.
 */
export class EnvironmentError extends UserError {
  constructor(readonly code: string, readonly path: string | undefined, message: string) {
    super(message);
  }
}

const ENVIRONMENT_ERRORS: Record<string, { what: string; advice: string }> = {
  ENOSPC: {
    what: 'no space left on the device',
    advice: 'free some space (`kdx cache gc`, old run directories) or move --cache-dir / --runs-dir to another disk, then run the same command again: it resumes from the last finished epoch',
  },
  EDQUOT: { what: 'disk quota exceeded', advice: 'free some space or move --cache-dir / --runs-dir elsewhere, then run the same command again' },
  EACCES: { what: 'permission denied', advice: 'make it writable for this user, or choose another --cache-dir / --runs-dir' },
  EPERM: { what: 'operation not permitted', advice: 'make it writable for this user, or choose another --cache-dir / --runs-dir' },
  EROFS: { what: 'read-only file system', advice: 'choose a writable --cache-dir / --runs-dir' },
  EMFILE: { what: 'too many open files', advice: 'raise the limit (`ulimit -n`) or run fewer --jobs' },
  ENFILE: { what: 'too many open files on the system', advice: 'close other programs or raise the system limit' },
  EIO: { what: 'input/output error', advice: 'the disk may be failing; check it, or choose another --cache-dir / --runs-dir' },
  ENOENT: { what: 'no such file or directory', advice: 'a directory kdx was using was removed during the run; run the same command again' },
};

/** Syscalls whose ENOENT means a directory vanished under kdx (rather than a file kdx forgot to write). */
const VANISHED_DIRECTORY_SYSCALLS = new Set(['open', 'mkdir', 'mkdtemp', 'rename', 'scandir', 'link', 'copyfile', 'unlink', 'rmdir']);

/** The EnvironmentError for an errno error from the file system, or undefined if `error` is not one. */
export function environmentError(error: unknown): EnvironmentError | undefined {
  if (error instanceof EnvironmentError) return error;
  const { code, path, dest, syscall } = (error ?? {}) as NodeJS.ErrnoException & { dest?: string };
  if (typeof code !== 'string' || !(code in ENVIRONMENT_ERRORS)) return undefined;
  if (code === 'ENOENT' && !(syscall && VANISHED_DIRECTORY_SYSCALLS.has(syscall) && path)) return undefined;
  const { what, advice } = ENVIRONMENT_ERRORS[code];
  const where = path ? ` (${syscall ?? 'accessing'} ${path}${dest ? ` -> ${dest}` : ''})` : '';
  return new EnvironmentError(code, path, `${what}${where}: ${advice}`);
}

/** The error as a user's problem (a UserError, or the machine refusing a file operation); undefined for
 * kdx's own bugs. What the CLI's one catch and a failed job's message both go by. */
export function asUserError(error: unknown): UserError | undefined {
  return error instanceof UserError ? error : environmentError(error);
}
