/**
 * What the mini shell hands a command: stdin as bytes, stdout and stderr as
 * sinks, the exported environment, the in-memory files, an injected sleep and
 * the kill signal.
 */
import { concatBytes } from "../../../src/lib/bytes.ts";

/** A simulated file system: absolute path -> contents. */
export type Files = ReadonlyMap<string, Uint8Array>;

const encoder = new TextEncoder();
const utf8 = (s: string) => encoder.encode(s);

/** Where a command writes. */
export class Sink {
  readonly chunks: Uint8Array[] = [];
  constructor(private readonly tee?: Uint8Array[]) {}
  write(b: Uint8Array | string) {
    const bytes = typeof b === "string" ? utf8(b) : b;
    if (bytes.length === 0) return;
    this.chunks.push(bytes);
    this.tee?.push(bytes);
  }
  bytes(): Uint8Array {
    return concatBytes(this.chunks);
  }
}

export interface Io {
  readonly stdin: Uint8Array;
  readonly stdout: Sink;
  readonly stderr: Sink;
  /** Variables visible to the command (exported environment). */
  readonly env: Map<string, string>;
  readonly files: Files;
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly signal: AbortSignal;
  /** For `sh -c`. */
  readonly shell: (src: string, io: Io) => Promise<number>;
}

/** Thrown when the shell is killed (by the shell, or by a command that was waiting). */
export class Killed {}

/** A command: its exit status, from its arguments and what it was handed. */
export type Command = (args: string[], io: Io) => Promise<number> | number;
