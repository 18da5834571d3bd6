"""The worker over its stdio protocol, one rank (the launcher runs it in-process): every command, the answers
against an independent computation with the model, resume determinism, and errors as ok: false lines."""
from __future__ import annotations

import os
import shutil
import tempfile
import unittest

import numpy as np
import torch

from helpers import Group, make_shards, tiny_spec

from convbert_torch.model import build_model
from convbert_torch.safetensors import load_file

SEED = 5


def tensors(arrays, lo: int, hi: int):  # type: ignore[no-untyped-def]
    out = {}
    for k, v in arrays.items():
        a = v[lo:hi]
        out[k] = torch.from_numpy(a.astype(np.float32 if k in ('attention_mask', 'masked_weights') else np.int64))
    return out


class WorkerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.dir = tempfile.mkdtemp(prefix='convbert-worker-')
        cls.shards = os.path.join(cls.dir, 'shards')
        cls.spec = tiny_spec(batch_size=4, accumulation=2)  # G = 8 on one rank
        cls.arrays = make_shards(cls.shards, cls.spec, steps=4, per_step=8, validation=8, per_shard=5)

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.dir, ignore_errors=True)

    def setUp(self) -> None:
        self.group = Group(1)

    def tearDown(self) -> None:
        self.group.close()

    def init(self) -> dict:  # type: ignore[type-arg]
        return self.group.ok('init', spec=self.spec, shards=self.shards, device='cpu', precision='fp32', compile=False, seed=SEED)

    def test_protocol_against_the_model(self) -> None:
        g = self.group
        info = self.init()
        model = build_model(self.spec, seed=SEED)
        self.assertEqual(info['parameterCount'], sum(p.numel() for p in model.params.values()))
        self.assertEqual(info['worldSize'], 1)
        self.assertEqual(info['device']['type'], 'cpu')
        self.assertIn('fusedAdamW', info['features'])

        # Step 0's loss: the mean over its 2 micro-batches (rows 0–3, 4–7) of the model's loss, computed here.
        train = self.arrays['train']
        with torch.no_grad():
            parts = [model(tensors(train, lo, lo + 4), False) for lo in (0, 4)]
        expected = sum(float(p['loss']) for p in parts) / 2
        expected_mlm = sum(float(p['mlm_loss']) for p in parts) / 2
        s0 = g.ok('step', step=0, lr=1e-3, seed=11)
        self.assertAlmostEqual(s0['loss'], expected, delta=1e-6 * abs(expected))
        self.assertAlmostEqual(s0['mlmLoss'], expected_mlm, delta=1e-6 * abs(expected_mlm))
        self.assertAlmostEqual(s0['loss'], s0['mlmLoss'] + s0['nspLoss'], delta=1e-6)
        self.assertTrue(s0['applied'])
        self.assertGreater(s0['gradNorm'], 0)
        self.assertGreater(s0['peakMemoryBytes'], 0)
        self.assertGreater(s0['memoryBytes'], 0)

        g.ok('step', step=1, lr=1e-3, seed=12)
        ck = os.path.join(self.dir, 'after-2.safetensors')
        saved = g.ok('save', path=ck)
        self.assertEqual(saved['optimizer'], {'type': 'adamw', 'step': 2})
        s2 = g.ok('step', step=2, lr=1e-3, seed=13)

        # Evaluation over the 8 validation rows (2 batches of 4), against the model in one batch of 8 with the
        # weights the worker has now (saved, loaded here).
        ev = g.ok('evaluate')
        ck3 = os.path.join(self.dir, 'after-3.safetensors')
        g.ok('save', path=ck3)
        saved3 = load_file(ck3)
        model.load_tensors({k[len('weights/'):]: v for k, v in saved3.items() if k.startswith('weights/')})
        with torch.no_grad():
            out = model(tensors(self.arrays['validation'], 0, 8), False)
        self.assertAlmostEqual(ev['mlmLoss'], float(out['mlm_loss']), delta=1e-5 * float(out['mlm_loss']))
        self.assertAlmostEqual(ev['loss'], float(out['mlm_loss']) + float(out['nsp_loss']), delta=1e-5 * ev['loss'])
        self.assertAlmostEqual(ev['mlmAccuracy'], float(out['mlm_accuracy']), delta=1e-9)
        self.assertAlmostEqual(ev['nspAccuracy'], float(out['nsp_accuracy']), delta=1e-9)
        self.assertEqual(set(k.split('/')[0] for k in saved3), {'weights', 'optimizer'})
        self.assertEqual(len([k for k in saved3 if k.startswith('optimizer/m/')]), len(model.params))

        # Resume: load the state after step 2 and take step 2 again: the same loss and norm, bit for bit.
        g.ok('load', path=ck, optimizer=saved['optimizer'])
        again = g.ok('step', step=2, lr=1e-3, seed=13)
        self.assertEqual(again['loss'], s2['loss'])
        self.assertEqual(again['gradNorm'], s2['gradNorm'])
        self.assertEqual(g.ok('save', path=os.path.join(self.dir, 'x.safetensors'))['optimizer']['step'], 3)
        g.ok('shutdown')
        self.assertEqual(g.wait(20), 0)

    def test_bf16_autocast_or_refusal(self) -> None:
        from convbert_torch.device import bf16_autocast_supported

        answer = self.group.request('init', spec=self.spec, shards=self.shards, device='cpu', precision='bf16', seed=SEED)
        if not bf16_autocast_supported('cpu'):
            self.assertFalse(answer['ok'])
            self.assertIn('bf16 is not supported', answer['error'])
            return
        self.assertTrue(answer['ok'], answer)
        self.assertEqual(answer['precision'], 'bf16')
        bf = self.group.ok('step', step=0, lr=1e-3, seed=1)
        fp = Group(1)
        try:
            fp.ok('init', spec=self.spec, shards=self.shards, device='cpu', precision='fp32', seed=SEED)
            ref = fp.ok('step', step=0, lr=1e-3, seed=1)
        finally:
            fp.close()
        # bf16 has 8 bits of mantissa: the loss agrees to about 1e-2, and is not bit-identical (autocast is on).
        self.assertAlmostEqual(bf['loss'], ref['loss'], delta=2e-2 * ref['loss'])
        self.assertNotEqual(bf['loss'], ref['loss'])
        path = os.path.join(self.dir, 'bf16.safetensors')
        self.group.ok('save', path=path)
        self.assertEqual(load_file(path)['weights/embeddings/word'].dtype, torch.float32)  # fp32 master weights

    def test_probe(self) -> None:
        g = self.group
        self.init()
        path = os.path.join(self.dir, 'probe.safetensors')
        ids = [2, 10, 11, 12, 3, 0, 0]
        out = g.ok('probe', ids=ids, tokenTypeIds=[0] * 7, realLength=5, path=path)
        self.assertEqual(out['attention'], [{'layer': 0, 'module': 'attention', 'heads': 2}, {'layer': 1, 'module': 'attention', 'heads': 2}])
        probes = load_file(path)
        self.assertEqual(sorted(k for k in probes if k.startswith('attention/')), ['attention/0/attention', 'attention/1/attention'])
        # The grouped conv kernels ride along (the conv probes are computed from them on the Node side).
        model = build_model(self.spec, seed=SEED)
        self.assertEqual(sorted(k for k in probes if k.startswith('weights/')), ['weights/layer00/conv/grouped/kernel', 'weights/layer01/conv/grouped/kernel'])
        torch.testing.assert_close(probes['weights/layer00/conv/grouped/kernel'], model.params['layer00/conv/grouped/kernel'].detach())
        p = probes['attention/0/attention']
        self.assertEqual(tuple(p.shape), (2, 7, 7))
        torch.testing.assert_close(p.sum(-1), torch.ones(2, 7))
        self.assertLess(float(p[:, :, 5:].max()), 1e-6)  # padded keys get no attention

    def test_errors_are_answers_and_the_worker_keeps_serving(self) -> None:
        g = self.group
        before = g.request('step', step=0, lr=1e-3, seed=1)
        self.assertFalse(before['ok'])
        self.assertIn('not been initialised', before['error'])
        self.assertEqual(before['hint'], 'send init first')
        g.send_raw('this is not json\n')
        bad = g.read()
        assert bad is not None
        self.assertEqual((bad['ok'], bad['id']), (False, None))
        self.assertIn('malformed request', bad['error'])
        self.assertIn('must be the learning rate', g.request('step', step=0, lr='fast', seed=1)['error'])
        self.assertIn('unknown command "train"', g.request('train')['error'])
        missing = g.request('init', spec=self.spec, shards=os.path.join(self.dir, 'nowhere'), device='cpu', seed=1)
        self.assertFalse(missing['ok'])
        self.assertIn('index.json is missing', missing['error'])
        self.assertIn('convbert prepare', missing['hint'])
        bf = g.request('init', spec=self.spec, shards=self.shards, device='cuda', seed=1)
        if not torch.cuda.is_available():
            self.assertFalse(bf['ok'])
            self.assertIn('no CUDA device', bf['error'])
            self.init()
        nofile = g.request('load', path=os.path.join(self.dir, 'none.safetensors'), optimizer={'type': 'adamw', 'step': 1})
        self.assertFalse(nofile['ok'])
        self.assertIn('no checkpoint at', nofile['error'])
        wrong = g.request('load', path=os.path.join(self.dir, 'none.safetensors'), optimizer={'type': 'lamb', 'step': 1})
        self.assertIn("optimizer is lamb, this run uses adamw", wrong['error'])
        past = g.request('step', step=4, lr=1e-3, seed=1)
        self.assertIn('past the 32 sequences', past['error'])
        self.assertTrue(g.ok('step', step=0, lr=1e-3, seed=1)['applied'])
        # End of input: the worker exits 0.
        self.assertEqual(g.close(), 0)


if __name__ == '__main__':
    unittest.main()
