/**
 * Finding a Python with PyTorch: the interpreter the torch engine starts its workers with.
 *
 * Candidates, first that imports torch wins: `CONVBERT_PYTHON`, the editor's choice (the `convbert.torch.python`
 * setting, else the Python extension's selected environment), then `python3`, `python` on PATH and the system's
 * `/usr/bin/python3` (Debian's `python3-torch` installs there, beside a pyenv or venv `python3` without torch).
 * Each is asked once per process (`import torch` takes a second or two); the answer says what it found: versions,
 * CUDA and MPS devices, `torch.compile`, NCCL.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from '../trainer/entry';

export const PYTHON_ENV = 'CONVBERT_PYTHON';

export interface TorchPython {
  /** The interpreter, as given (a command on PATH or a path). */
  python: string;
  pythonVersion: string;
  torch: string;
  cuda: { available: boolean; devices: number; name?: string; version?: string };
  mps: boolean;
  compile: boolean;
  nccl: boolean;
}

export type TorchPythonProbe =
  | { ok: true; info: TorchPython; tried: { python: string; reason: string }[] }
  | { ok: false; reason: string; hint: string; tried: { python: string; reason: string }[] };

/** What the probe prints: one JSON line. Kept to what torch 1.13 and 2.x both have. */
const PROBE = `
import json, sys, platform
try:
    import torch
except Exception as e:
    print(json.dumps({"error": "no torch: " + (str(e).splitlines() or [type(e).__name__])[0], "python": platform.python_version()}))
    sys.exit(0)
cuda = torch.cuda.is_available()
mps = bool(getattr(getattr(torch.backends, "mps", None), "is_available", lambda: False)())
try:
    import torch.distributed as dist
    nccl = bool(dist.is_available() and dist.is_nccl_available())
except Exception:
    nccl = False
print(json.dumps({
    "python": platform.python_version(), "torch": torch.__version__,
    "cuda": {"available": cuda, "devices": torch.cuda.device_count() if cuda else 0,
             "name": torch.cuda.get_device_name(0) if cuda else None, "version": torch.version.cuda},
    "mps": mps, "compile": hasattr(torch, "compile"), "nccl": nccl}))
`;

export interface FindPythonOptions {
  env?: NodeJS.ProcessEnv;
  /** The editor's choice (setting, or the Python extension's environment), tried after `CONVBERT_PYTHON`. */
  configured?: string;
  timeoutMs?: number;
}

/** The interpreters to try, in order, without duplicates. */
export function pythonCandidates(options: FindPythonOptions = {}): string[] {
  const env = options.env ?? process.env;
  const out: string[] = [];
  const add = (p: string | undefined) => {
    const v = p?.trim();
    if (v && !out.includes(v)) out.push(v);
  };
  add(env[PYTHON_ENV]);
  add(options.configured);
  if (env[PYTHON_ENV] || options.configured) return out; // asked for one: no guessing past it
  add(process.platform === 'win32' ? 'python' : 'python3');
  add('python');
  if (process.platform !== 'win32' && existsSync('/usr/bin/python3')) add('/usr/bin/python3');
  return out;
}

function parseProbe(python: string, stdout: string): { info?: TorchPython; reason?: string } {
  const line = stdout.trim().split('\n').pop() ?? '';
  try {
    const parsed: unknown = JSON.parse(line);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
    const j = parsed as Record<string, unknown>;
    if (typeof j.error === 'string') return { reason: `${j.error} (Python ${String(j.python)})` };
    if (typeof j.torch !== 'string') throw new Error('no torch version');
    const cuda = j.cuda as TorchPython['cuda'];
    return {
      info: {
        python,
        pythonVersion: String(j.python),
        torch: String(j.torch),
        cuda: { available: !!cuda?.available, devices: Number(cuda?.devices ?? 0), ...(cuda?.name ? { name: cuda.name } : {}), ...(cuda?.version ? { version: cuda.version } : {}) },
        mps: !!j.mps,
        compile: !!j.compile,
        nccl: !!j.nccl,
      },
    };
  } catch {
    return { reason: `did not answer the probe (${line.slice(0, 120) || 'no output'})` };
  }
}

const cache = new Map<string, { info?: TorchPython; reason?: string }>();

function conclude(tried: { python: string; reason: string }[], found: TorchPython | undefined, asked: boolean): TorchPythonProbe {
  if (found) return { ok: true, info: found, tried };
  const reason = tried.length === 0 ? 'no Python interpreter to try' : `no Python with PyTorch: ${tried.map((t) => `${t.python}: ${t.reason}`).join('; ')}`;
  const hint = asked
    ? `install PyTorch for that interpreter, or point ${PYTHON_ENV} (or the convbert.torch.python setting) at one that has it`
    : `install PyTorch (pip install torch, or Debian's python3-torch) and, if it is not the first python3 on PATH, set ${PYTHON_ENV} or the convbert.torch.python setting`;
  return { ok: false, reason, hint, tried };
}

/** Probes the candidates one after another (asynchronously), first with torch wins; answers are cached. */
export async function findTorchPython(options: FindPythonOptions = {}): Promise<TorchPythonProbe> {
  const candidates = pythonCandidates(options);
  const tried: { python: string; reason: string }[] = [];
  for (const python of candidates) {
    let r = cache.get(python);
    if (!r) {
      r = await new Promise<{ info?: TorchPython; reason?: string }>((resolve) => {
        let out = '';
        let err = '';
        const child = spawn(python, ['-c', PROBE], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...(options.env ?? process.env), PYTHONWARNINGS: 'ignore' } });
        const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        child.on('error', (e) => {
          clearTimeout(timer);
          resolve({ reason: (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : e.message });
        });
        child.on('close', (code) => {
          clearTimeout(timer);
          if (code !== 0 && !out.trim()) resolve({ reason: `exited with ${code}${err.trim() ? `: ${err.trim().split('\n').pop()}` : ''}` });
          else resolve(parseProbe(python, out));
        });
      });
      cache.set(python, r);
    }
    if (r.info) return conclude(tried, r.info, false);
    tried.push({ python, reason: r.reason ?? 'failed' });
  }
  return conclude(tried, undefined, !!(options.env ?? process.env)[PYTHON_ENV] || !!options.configured);
}

/** The same, synchronously (for `Engine.availability`); shares the cache. */
export function findTorchPythonSync(options: FindPythonOptions = {}): TorchPythonProbe {
  const candidates = pythonCandidates(options);
  const tried: { python: string; reason: string }[] = [];
  for (const python of candidates) {
    let r = cache.get(python);
    if (!r) {
      const res = spawnSync(python, ['-c', PROBE], { encoding: 'utf8', timeout: options.timeoutMs ?? 60_000, env: { ...(options.env ?? process.env), PYTHONWARNINGS: 'ignore' } });
      if (res.error) r = { reason: (res.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : res.error.message };
      else if (res.status !== 0 && !res.stdout.trim()) r = { reason: `exited with ${res.status}${res.stderr.trim() ? `: ${res.stderr.trim().split('\n').pop()}` : ''}` };
      else r = parseProbe(python, res.stdout);
      cache.set(python, r);
    }
    if (r.info) return conclude(tried, r.info, false);
    tried.push({ python, reason: r.reason ?? 'failed' });
  }
  return conclude(tried, undefined, !!(options.env ?? process.env)[PYTHON_ENV] || !!options.configured);
}

/** The folder holding the `convbert_torch` package (put on PYTHONPATH for the workers). */
export function pythonPackageDir(installedAt?: string): string {
  return path.join(installedAt ?? packageRoot(), 'python');
}

/** The environment a worker needs: our package first on PYTHONPATH, unbuffered output. */
export function workerEnv(installedAt?: string, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const dir = pythonPackageDir(installedAt);
  const existing = env.PYTHONPATH ? env.PYTHONPATH.split(path.delimiter) : [];
  return { PYTHONPATH: [dir, ...existing.filter((p) => p !== dir)].join(path.delimiter), PYTHONUNBUFFERED: '1' };
}
