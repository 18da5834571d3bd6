/**
 * WordPiece encoding as in BERT: pre-tokenize (see `pretokenize.ts`), then cut every word greedily into the
 * longest vocabulary pieces from the left, continuation pieces carrying the `##` prefix. A word that cannot be cut
 * completely, or is longer than `maxInputCharsPerWord`, becomes a single [UNK]. The vocabulary file is BERT's
 * `vocab.txt`: one piece per line, the line number is the id.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { preTokenize } from './pretokenize';

export const SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;
export type SpecialToken = (typeof SPECIAL_TOKENS)[number];
export const CONTINUATION = '##';

export interface SpecialIds {
  pad: number;
  unk: number;
  cls: number;
  sep: number;
  mask: number;
}

export interface TokenizerOptions {
  /** Lower-case and strip accents before splitting (BERT "uncased"). */
  lowercase: boolean;
  /** Longer words become [UNK] (BERT: 100). */
  maxInputCharsPerWord?: number;
}

const WORD_CACHE_LIMIT = 200_000;

export class WordPieceTokenizer {
  readonly vocab: readonly string[];
  readonly lowercase: boolean;
  readonly maxInputCharsPerWord: number;
  readonly special: SpecialIds;
  /** Ids that masking may substitute as a "random token": everything except specials and `[...]` reserved tokens. */
  readonly replacementIds: Int32Array;
  private readonly ids = new Map<string, number>();
  private readonly maxPieceLength: number;
  private readonly specialSet: Set<number>;
  private readonly wordCache = new Map<string, readonly number[]>();

  constructor(vocab: readonly string[], opts: TokenizerOptions, where = 'vocabulary') {
    this.vocab = [...vocab];
    this.lowercase = opts.lowercase;
    this.maxInputCharsPerWord = opts.maxInputCharsPerWord ?? 100;
    let maxLen = 1;
    this.vocab.forEach((piece, id) => {
      if (piece.length === 0) throw new Error(`${where}: line ${id + 1} is empty`);
      if (/\s/.test(piece)) throw new Error(`${where}: line ${id + 1} (${JSON.stringify(piece)}) contains whitespace`);
      if (this.ids.has(piece)) throw new Error(`${where}: line ${id + 1} repeats the piece ${JSON.stringify(piece)} (first on line ${(this.ids.get(piece) ?? 0) + 1})`);
      this.ids.set(piece, id);
      const len = piece.startsWith(CONTINUATION) ? piece.length - CONTINUATION.length : piece.length;
      if (len > maxLen) maxLen = len;
    });
    this.maxPieceLength = maxLen;
    const get = (t: SpecialToken): number => {
      const id = this.ids.get(t);
      if (id === undefined) throw new Error(`${where} has no ${t} token (needs ${SPECIAL_TOKENS.join(' ')})`);
      return id;
    };
    this.special = { pad: get('[PAD]'), unk: get('[UNK]'), cls: get('[CLS]'), sep: get('[SEP]'), mask: get('[MASK]') };
    this.specialSet = new Set(Object.values(this.special));
    const repl: number[] = [];
    this.vocab.forEach((piece, id) => {
      if (!this.specialSet.has(id) && !/^\[.+\]$/.test(piece)) repl.push(id);
    });
    if (repl.length === 0) throw new Error(`${where} has no ordinary pieces besides the special tokens`);
    this.replacementIds = Int32Array.from(repl);
  }

  get vocabSize(): number {
    return this.vocab.length;
  }

  /** The id of a piece, or undefined. */
  tokenId(piece: string): number | undefined {
    return this.ids.get(piece);
  }

  /** The piece of an id (undefined when out of range). */
  token(id: number): string | undefined {
    return this.vocab[id];
  }

  isSpecial(id: number): boolean {
    return this.specialSet.has(id);
  }

  /** Pieces of one pre-tokenized word (greedy longest match first). */
  encodeWord(word: string): readonly number[] {
    const cached = this.wordCache.get(word);
    if (cached) return cached;
    const out = this.cutWord(word);
    if (this.wordCache.size >= WORD_CACHE_LIMIT) this.wordCache.clear();
    this.wordCache.set(word, out);
    return out;
  }

  private cutWord(word: string): readonly number[] {
    const chars = [...word].length;
    if (chars > this.maxInputCharsPerWord) return [this.special.unk];
    const out: number[] = [];
    let start = 0;
    while (start < word.length) {
      let end = Math.min(word.length, start + this.maxPieceLength);
      let found = -1;
      while (end > start) {
        const sub = start > 0 ? CONTINUATION + word.slice(start, end) : word.slice(start, end);
        const id = this.ids.get(sub);
        if (id !== undefined) {
          found = id;
          break;
        }
        end--;
      }
      if (found < 0) return [this.special.unk];
      out.push(found);
      start = end;
    }
    return out;
  }

  /** Token ids of a text (no [CLS]/[SEP] added). */
  encode(text: string): number[] {
    const out: number[] = [];
    for (const w of preTokenize(text, this.lowercase)) for (const id of this.encodeWord(w)) out.push(id);
    return out;
  }

  /** Pieces of a text, as strings. */
  tokenize(text: string): string[] {
    return this.encode(text).map((id) => this.vocab[id] as string);
  }

  /**
   * Text from ids: continuation pieces are glued to the previous piece, others separated by one space. Pre-tokenized
   * text round-trips: `decode(encode(t)) === preTokenize(t).join(' ')` when every character is in the vocabulary.
   */
  decode(ids: ArrayLike<number>, opts: { skipSpecial?: boolean } = {}): string {
    let out = '';
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as number;
      if (opts.skipSpecial && this.specialSet.has(id)) continue;
      const piece = this.vocab[id] ?? '[UNK]';
      if (piece.startsWith(CONTINUATION) && piece.length > CONTINUATION.length && out.length > 0) out += piece.slice(CONTINUATION.length);
      else out += (out.length > 0 ? ' ' : '') + piece;
    }
    return out;
  }

  /** BERT `vocab.txt` text. */
  toVocabFile(): string {
    return `${this.vocab.join('\n')}\n`;
  }

  /** Writes `vocab.txt` (atomically: a temporary file renamed into place). */
  save(path: string): void {
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, this.toVocabFile());
    renameSync(tmp, path);
  }

  /** Parses `vocab.txt` text (errors name `where`). */
  static fromVocabText(text: string, opts: TokenizerOptions, where = 'vocab.txt'): WordPieceTokenizer {
    const lines = text.replace(/^\uFEFF/, '').split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
    if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    if (lines.length === 0) throw new Error(`${where} is empty`);
    return new WordPieceTokenizer(lines, opts, where);
  }

  /** Loads a `vocab.txt`; errors name the path. */
  static fromVocabFile(path: string, opts: TokenizerOptions): WordPieceTokenizer {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new Error(code === 'ENOENT' ? `Vocabulary file not found: ${path}` : `Cannot read vocabulary file ${path}: ${(err as Error).message}`);
    }
    return WordPieceTokenizer.fromVocabText(text, opts, `Vocabulary file ${path}`);
  }
}
