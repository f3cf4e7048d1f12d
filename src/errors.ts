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
