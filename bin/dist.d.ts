// Types of bin/dist.js (plain JavaScript: it runs before any TypeScript can).
export declare const distDir: string;
export declare function sourceFingerprint(dir?: string): string;
export declare function distIsFresh(): boolean;
export declare function build(): Promise<number>;
