"""bench/gpu.sh and convbert_torch.gpu_bench on the CPU with the tiny specs of bench/gpu (a smoke run: it runs,
prints the tables, its figures follow from the committed cost-model FLOPs, and the two loops train the same model)."""
from __future__ import annotations

import contextlib
import io
import json
import os
import statistics
import subprocess
import tempfile
import unittest
from typing import Any, Dict, List
from unittest import mock

from helpers import PYTHON_DIR, torch_python

import torch

from convbert_torch import device as devices
from convbert_torch import gpu_bench
from convbert_torch.worker import Worker

ROOT = os.path.dirname(PYTHON_DIR)
SPEC_DIR = os.path.join(ROOT, 'bench', 'gpu')
MODELS = ['bert-tiny', 'groupbert-tiny']


def env() -> Dict[str, str]:
    e = dict(os.environ)
    e['PYTHONPATH'] = PYTHON_DIR
    e['CONVBERT_PYTHON'] = torch_python()
    e['OMP_NUM_THREADS'] = '1'
    e['PYTHONDONTWRITEBYTECODE'] = '1'
    return e


def run_bench(*args: str) -> subprocess.CompletedProcess:  # type: ignore[type-arg]
    return subprocess.run([torch_python(), '-m', 'convbert_torch.gpu_bench', *args], env=env(), capture_output=True, text=True, timeout=300)


def spec_file(name: str) -> Dict[str, Any]:
    with open(os.path.join(SPEC_DIR, f'{name}.json')) as f:
        return json.load(f)


class SmokeRun(unittest.TestCase):
    out: str
    cells: List[Dict[str, Any]]

    @classmethod
    def setUpClass(cls) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, 'cells.json')
            r = run_bench('--device', 'cpu', '--threads', '1', '--models', ','.join(MODELS), '--settings', 'fp32:4,bf16:4,bf16-compile:4',
                          '--steps', '2', '--warmup', '1', '--json', path)
            if r.returncode != 0:
                raise AssertionError(f'gpu_bench exited {r.returncode}:\n{r.stdout}\n{r.stderr[-3000:]}')
            cls.out = r.stdout
            with open(path) as f:
                cls.cells = json.load(f)['cells']

    def cell(self, setting: str, model: str, engine: str) -> Dict[str, Any]:
        found = [c for c in self.cells if (c['setting'], c['model'], c['engine']) == (setting, model, engine)]
        self.assertEqual(len(found), 1, (setting, model, engine))
        return found[0]

    def test_prints_the_device_and_the_tables(self) -> None:
        self.assertIn('device: cpu', self.out)
        self.assertIn(f'torch {torch.__version__}', self.out)
        self.assertIn('| setting | B | model | loop | step ms (median) | tokens/s | TFLOP/s | peak RSS | ours/plain |', self.out)
        self.assertIn('| setting | B | loop | model | step time / bert-tiny | FLOPs / bert-tiny |', self.out)
        for setting in ('fp32', 'bf16'):
            for m in MODELS:
                for engine in ('ours', 'plain'):
                    self.assertRegex(self.out, rf'\| {setting} \| 4 \| {m} \| {engine} \| [0-9.]+ \| [0-9,]+ \| [0-9.e-]+ \| [0-9.]+ GiB \|')

    def test_compile_cells_follow_this_torch(self) -> None:
        for m in MODELS:
            for engine in ('ours', 'plain'):
                c = self.cell('bf16-compile', m, engine)
                if devices.has_compile():
                    self.assertEqual(c['status'], 'ok', c['message'])
                    self.assertTrue(c['compiled'])
                else:
                    self.assertEqual(c['status'], 'n/a')
                    self.assertEqual(c['message'], f'n/a: torch {torch.__version__} has no torch.compile')
                    self.assertIn(f'| bf16-compile | 4 | {m} | {engine} | n/a: torch {torch.__version__} has no torch.compile |', self.out)

    def test_figures_come_from_the_cost_model_flops_in_the_spec_files(self) -> None:
        for c in self.cells:
            if c['status'] != 'ok':
                continue
            spec = spec_file(c['model'])
            self.assertEqual(c['flopsPerSequence'], spec['trainingFlopsPerSequence'])
            self.assertEqual(len(c['stepSeconds']), 2)
            median = statistics.median(c['stepSeconds'])
            self.assertEqual(c['medianStepSeconds'], median)
            self.assertAlmostEqual(c['tflops'], spec['trainingFlopsPerSequence'] * 4 / median / 1e12, delta=1e-12 * c['tflops'])
            self.assertAlmostEqual(c['tokensPerSecond'], 4 * spec['sequenceLength'] / median, delta=1e-9 * c['tokensPerSecond'])
            self.assertGreater(c['peakMemoryBytes'], 0)

    def test_the_ratio_table_is_step_time_beside_flops(self) -> None:
        flop = spec_file('groupbert-tiny')['trainingFlopsPerSequence'] / spec_file('bert-tiny')['trainingFlopsPerSequence']
        for setting in ('fp32', 'bf16'):
            for engine in ('ours', 'plain'):
                ratio = self.cell(setting, 'groupbert-tiny', engine)['medianStepSeconds'] / self.cell(setting, 'bert-tiny', engine)['medianStepSeconds']
                self.assertIn(f'| {setting} | 4 | {engine} | groupbert-tiny | {ratio:.2f} | {flop:.3f} |', self.out)

    def test_both_loops_train_the_same_model_on_the_same_batches(self) -> None:
        # Same initial weights, batches, dropout seeds and AdamW arithmetic (ours: optim.py; plain: torch.optim.AdamW):
        # the losses of every step agree in fp32; in bf16 the first (before any update).
        for m in MODELS:
            ours, plain = self.cell('fp32', m, 'ours')['losses'], self.cell('fp32', m, 'plain')['losses']
            self.assertEqual(len(ours), 3)
            for a, b in zip(ours, plain):
                self.assertAlmostEqual(a, b, delta=1e-5 * abs(b))
            self.assertNotEqual(ours[0], ours[-1])  # it trained
            self.assertAlmostEqual(self.cell('bf16', m, 'ours')['losses'][0], self.cell('bf16', m, 'plain')['losses'][0], delta=1e-5)


class Failures(unittest.TestCase):
    def test_out_of_memory_in_a_cell_prints_oom_and_goes_on(self) -> None:
        def oom(self: Worker, req: Dict[str, Any]) -> Dict[str, Any]:
            raise RuntimeError('CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 139.8 GiB total capacity)')

        out = io.StringIO()
        with mock.patch.object(Worker, 'cmd_step', oom), contextlib.redirect_stdout(out):
            code = gpu_bench.main(['--device', 'cpu', '--threads', '1', '--models', ','.join(MODELS), '--settings', 'fp32:2', '--steps', '1', '--warmup', '0'])
        text = out.getvalue()
        self.assertEqual(code, 0)
        for m in MODELS:
            self.assertIn(f'| fp32 | 2 | {m} | ours | OOM |', text)
            self.assertRegex(text, rf'\| fp32 \| 2 \| {m} \| plain \| [0-9.]+ \| [0-9,]+ \|')
        self.assertIn('| fp32 | 2 | plain | groupbert-tiny |', text)

    def test_compile_settings_compile_both_loops_where_torch_has_compile(self) -> None:
        # torch 1.13 has no torch.compile: a stand-in (identity, counted) shows that both loops ask for it.
        calls: List[Any] = []

        def fake_compile(module: Any) -> Any:
            calls.append(module)
            return module

        out = io.StringIO()
        with mock.patch.object(devices, 'has_compile', lambda: True), mock.patch.object(torch, 'compile', fake_compile, create=True), \
                contextlib.redirect_stdout(out):
            code = gpu_bench.main(['--device', 'cpu', '--threads', '1', '--models', 'bert-tiny', '--settings', 'bf16-compile:2', '--steps', '1', '--warmup', '0'])
        self.assertEqual(code, 0)
        self.assertEqual(len(calls), 2)  # ours (the worker's init) and plain
        self.assertRegex(out.getvalue(), r'\| bf16-compile \| 2 \| bert-tiny \| ours \| [0-9.]+ \|')
        self.assertRegex(out.getvalue(), r'\| bf16-compile \| 2 \| bert-tiny \| plain \| [0-9.]+ \|')

    def test_another_failure_is_an_error_cell_and_exit_1(self) -> None:
        def broken(self: Worker, req: Dict[str, Any]) -> Dict[str, Any]:
            raise ValueError('something else')

        out = io.StringIO()
        with mock.patch.object(Worker, 'cmd_step', broken), contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            code = gpu_bench.main(['--device', 'cpu', '--threads', '1', '--models', 'bert-tiny', '--settings', 'fp32:2', '--steps', '1', '--warmup', '0', '--engines', 'ours'])
        self.assertEqual(code, 1)
        self.assertIn('| fp32 | 2 | bert-tiny | ours | error: ValueError: something else |', out.getvalue())

    def test_bad_arguments_are_one_line_and_exit_2(self) -> None:
        for args, words in (
            (['--settings', 'fp64'], 'unknown setting "fp64"'),
            (['--settings', 'bf16:x'], 'the batch after ":" must be an integer'),
            (['--models', 'nope'], 'no spec'),
            (['--engines', 'ours,tfjs'], '--engines'),
        ):
            r = run_bench('--device', 'cpu', *args)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn(words, r.stderr)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
            self.assertNotIn('Traceback', r.stderr)

    @unittest.skipIf(torch.cuda.is_available(), 'a CUDA device is visible')
    def test_no_cuda_device_exits_2_with_a_message(self) -> None:
        r = run_bench('--models', 'bert-tiny')
        self.assertEqual(r.returncode, 2)
        self.assertIn('no CUDA device', r.stderr)
        self.assertIn('--device cpu', r.stderr)
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, 'results.txt')
            r = subprocess.run(['bash', os.path.join(ROOT, 'bench', 'gpu.sh')], env={**env(), 'GPU_BENCH_OUT': out}, capture_output=True, text=True, timeout=120)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn('no CUDA device', r.stderr)
            self.assertFalse(os.path.exists(out))


class Script(unittest.TestCase):
    def test_gpu_sh_runs_on_the_cpu_and_writes_the_results_file(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, 'results.txt')
            r = subprocess.run(['bash', os.path.join(ROOT, 'bench', 'gpu.sh'), '--device', 'cpu', '--threads', '1', '--models', ','.join(MODELS),
                                '--settings', 'fp32:2', '--steps', '1', '--warmup', '1'],
                               env={**env(), 'GPU_BENCH_OUT': out}, capture_output=True, text=True, timeout=300)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr[-2000:])
            with open(out) as f:
                saved = f.read()
            self.assertIn('device: cpu', saved)
            self.assertRegex(saved, r'\| fp32 \| 2 \| groupbert-tiny \| ours \| [0-9.]+ \|')
            self.assertIn(saved.strip().splitlines()[-1], r.stdout)


if __name__ == '__main__':
    unittest.main()
