/**
 * Lines of a text file, streamed: what every importer reads captures with.
 * @module
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

/** An open file read line by line. */
export interface LineReader {
  /** The underlying iterator (created at once, so no line is lost before the first read). */
  readonly it: AsyncIterator<string>;
  /** The next line without its end-of-line, or undefined at the end. */
  next(): Promise<string | undefined>;
  /** Stops reading and releases the file. */
  close(): void;
}

/** Opens `path` (UTF-8) for reading line by line, with bounded memory. */
export function openLines(path: string): LineReader {
  const stream = createReadStream(path, { encoding: 'utf8' });
  const rl = createInterface({ input: stream, crlfDelay: Infinity });
  const it = rl[Symbol.asyncIterator]();
  return {
    it,
    async next() {
      const r = await it.next();
      return r.done ? undefined : r.value;
    },
    close() {
      rl.close();
      stream.destroy();
    },
  };
}
