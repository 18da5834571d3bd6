/**
 * Minimal glob support for corpus paths (Node 20 has no fs.glob): `*` (any run of characters within one path
 * segment), `?` (one character within a segment) and `**` (zero or more whole directories). Any other character is
 * literal. Like shells, `*` and `?` do not match a leading `.` and `**` does not enter dot-directories unless the
 * pattern spells the dot. Symbolic links to directories are not followed while walking (files behind links are).
 * Matching is on `/`-separated paths; `\` in patterns is read as a separator too, so Windows paths work.
 */
import { readdirSync, statSync, type Dirent } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';

export function hasGlobMagic(pattern: string): boolean {
  return /[*?]/.test(pattern);
}

function toPosix(p: string): string {
  return p.replace(/\\/g, '/');
}

function escapeRe(ch: string): string {
  return /[.+^${}()|[\]\\/-]/.test(ch) ? `\\${ch}` : ch;
}

/** Regular-expression source for one segment without `**`. */
function segmentSource(seg: string): string {
  let out = '';
  for (let i = 0; i < seg.length; i++) {
    const ch = seg[i] as string;
    const atStart = i === 0;
    if (ch === '*') {
      while (seg[i + 1] === '*') i++;
      out += atStart ? '(?!\\.)[^/]*' : '[^/]*';
    } else if (ch === '?') {
      out += atStart ? '(?!\\.)[^/]' : '[^/]';
    } else {
      out += escapeRe(ch);
    }
  }
  return out;
}

/** Compiles a whole `/`-separated glob into an anchored regular expression. */
export function globToRegExp(pattern: string): RegExp {
  const segs = toPosix(pattern).split('/');
  let src = '';
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i] as string;
    const last = i === segs.length - 1;
    if (seg === '**') {
      // not last: zero or more non-dot directories; last: every non-dot path below (at least one segment)
      src += last ? '(?!\\.)[^/]+(?:/(?!\\.)[^/]+)*' : '(?:(?!\\.)[^/]+/)*';
    } else {
      src += segmentSource(seg) + (last ? '' : '/');
    }
  }
  return new RegExp(`^${src}$`);
}

/** Whether a `/`-separated relative path matches a glob. */
export function matchGlob(pattern: string, path: string): boolean {
  return globToRegExp(pattern).test(toPosix(path));
}

/**
 * Expands a glob (or plain path) relative to `baseDir` to the absolute paths of the regular files it matches,
 * sorted by path (code-unit order) so the result does not depend on directory listing order.
 * A pattern without wildcards is returned resolved, whether or not it exists (the caller reports missing files).
 */
export function expandGlob(pattern: string, baseDir: string): string[] {
  const posix = toPosix(pattern);
  const absolute = isAbsolute(pattern) || posix.startsWith('/');
  const segs = posix.split('/');
  // the static prefix: leading segments without wildcards
  let k = 0;
  while (k < segs.length - 1 && !hasGlobMagic(segs[k] as string)) k++;
  if (!hasGlobMagic(posix)) return [resolve(baseDir, pattern)];
  const prefixSegs = segs.slice(0, k);
  const prefix = prefixSegs.length === 0 ? (absolute ? '/' : '.') : prefixSegs.join('/') || '/';
  const root = absolute ? resolve(prefix) : resolve(baseDir, prefix);
  const rest = segs.slice(k);
  const re = globToRegExp(rest.join('/'));
  const recursive = rest.includes('**');
  const maxDepth = recursive ? Infinity : rest.length;
  const out: string[] = [];
  const walk = (dir: string, rel: string, depth: number): void => {
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return; // unreadable or missing directory: matches nothing
    }
    for (const e of entries) {
      const relPath = rel ? `${rel}/${e.name}` : e.name;
      const full = join(dir, e.name);
      let isFile = e.isFile();
      let isDir = e.isDirectory();
      if (e.isSymbolicLink()) {
        try {
          const st = statSync(full);
          isFile = st.isFile();
          isDir = false; // do not follow directory links (avoids cycles)
        } catch {
          continue; // dangling link
        }
      }
      if (isFile && re.test(relPath)) out.push(full);
      else if (isDir && depth + 1 < maxDepth && couldDescend(rest, relPath)) walk(full, relPath, depth + 1);
    }
  };
  walk(root, '', 0);
  return [...new Set(out)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Cheap pruning: a directory is worth entering when its path can still be a prefix of a match. */
function couldDescend(rest: string[], relDir: string): boolean {
  const parts = relDir.split('/');
  for (let i = 0; i < parts.length; i++) {
    const seg = rest[i];
    if (seg === undefined) return false;
    if (seg === '**') return parts.slice(i).every((p) => !p.startsWith('.'));
    if (!new RegExp(`^${segmentSource(seg)}$`).test(parts[i] as string)) return false;
  }
  return parts.length < rest.length;
}
