/**
 * Chunked UTF-8 reading: files are read `chunkSize` bytes at a time, so a corpus larger than memory can be hashed,
 * counted and tokenized. Multi-byte characters split across chunk boundaries are decoded correctly (streaming
 * TextDecoder), a leading BOM is dropped, `\r\n` and `\r`-free `\n` endings are both accepted. Invalid UTF-8 becomes
 * U+FFFD (the tokenizer's text cleaning then drops it).
 */
import { open } from 'node:fs/promises';

export const DEFAULT_CHUNK_SIZE = 1 << 20;

export interface StreamOptions {
  /** Bytes per read (default 1 MiB). */
  chunkSize?: number;
  /** Called with every raw chunk, in order, before it is decoded (used to hash content while streaming). */
  onChunk?: (bytes: Uint8Array) => void;
}

/** Wraps fs errors with a message that names the corpus path. */
export function corpusFileError(path: string, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return new Error(`Corpus file not found: ${path}`);
  if (code === 'EISDIR') return new Error(`Corpus path is a directory, not a file: ${path} (use a glob such as "${path}/**/*.txt")`);
  if (code === 'EACCES' || code === 'EPERM') return new Error(`Corpus file is not readable: ${path}`);
  return new Error(`Cannot read corpus file ${path}: ${(err as Error)?.message ?? String(err)}`);
}

/** Raw byte chunks of a file. The buffer is reused: copy a chunk to keep it past the next iteration. */
export async function* readChunks(path: string, chunkSize = DEFAULT_CHUNK_SIZE): AsyncGenerator<Uint8Array> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw corpusFileError(path, err);
  }
  try {
    const buf = new Uint8Array(Math.max(1, chunkSize));
    for (;;) {
      let n: number;
      try {
        ({ bytesRead: n } = await fh.read(buf, 0, buf.length, null));
      } catch (err) {
        throw corpusFileError(path, err);
      }
      if (n === 0) break;
      yield buf.subarray(0, n);
    }
  } finally {
    await fh.close();
  }
}

/**
 * The lines of a UTF-8 file, in batches (one array per chunk read; cheaper than one promise per line). Line
 * terminators are removed; a final line without a terminator is included.
 */
export async function* readLineBatches(path: string, opts: StreamOptions = {}): AsyncGenerator<string[]> {
  const decoder = new TextDecoder('utf-8');
  let pending = '';
  for await (const chunk of readChunks(path, opts.chunkSize)) {
    opts.onChunk?.(chunk);
    const text = pending + decoder.decode(chunk, { stream: true });
    const lines: string[] = [];
    let start = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      lines.push(stripCr(text.slice(start, nl)));
      start = nl + 1;
    }
    pending = text.slice(start);
    if (lines.length > 0) yield lines;
  }
  pending += decoder.decode();
  if (pending.length > 0) yield [stripCr(pending)];
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}
