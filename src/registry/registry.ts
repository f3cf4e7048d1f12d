import { didYouMean } from '../util/suggest.js';

/**
 * A name -> factory map. Built-in layers, losses, optimizers, datasets and transforms are registered
 * exactly as a user's plugin registers more, so the two cannot drift apart.
 */
export class Registry<T> {
  private readonly entries = new Map<string, T>();

  constructor(readonly kind: string) {}

  register(name: string, entry: T): void {
    if (this.entries.has(name)) throw new Error(`${this.kind} "${name}" is already registered`);
    this.entries.set(name, entry);
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** The entry, or an error that names the kind and suggests the nearest known name. */
  get(name: string): T {
    const entry = this.entries.get(name);
    if (entry === undefined) throw new UnknownNameError(this.kind, name, [...this.entries.keys()]);
    return entry;
  }

  names(): string[] {
    return [...this.entries.keys()];
  }
}

export class UnknownNameError extends Error {
  constructor(readonly kind: string, readonly name: string, readonly known: string[]) {
    super(`unknown ${kind} "${name}"${didYouMean(name, known)}`);
  }
}
