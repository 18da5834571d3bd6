"""convbert_torch.data: the shards reader against a folder written independently (helpers.write_shards)."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import unittest

import numpy as np
import torch

from helpers import make_shards, tiny_spec

from convbert_torch.data import ShardError, Shards


class ShardsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.dir = tempfile.mkdtemp(prefix='convbert-shards-')
        cls.spec = tiny_spec(batch_size=2, accumulation=2)
        # 3 steps of 8 rows in shards of 7 rows: every step crosses a shard boundary.
        cls.arrays = make_shards(os.path.join(cls.dir, 'ok'), cls.spec, steps=3, per_step=8, validation=5, per_shard=7)

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.dir, ignore_errors=True)

    def copy(self) -> str:
        dst = tempfile.mkdtemp(dir=self.dir)
        shutil.rmtree(dst)
        shutil.copytree(os.path.join(self.dir, 'ok'), dst)
        return dst

    def edit_index(self, folder: str, change) -> None:  # type: ignore[no-untyped-def]
        path = os.path.join(folder, 'index.json')
        with open(path) as f:
            index = json.load(f)
        change(index)
        with open(path, 'w') as f:
            json.dump(index, f)

    def test_rows_cross_shard_boundaries(self) -> None:
        s = Shards(os.path.join(self.dir, 'ok'))
        self.assertEqual(s.splits['train'].shards, 4)  # 24 rows, 7 per shard
        for array, expected in self.arrays['train'].items():
            got = s.rows('train', array, 5, 11)  # rows 5…15 span shards 0, 1 and 2
            np.testing.assert_array_equal(got, expected[5:16], err_msg=array)
        np.testing.assert_array_equal(s.rows('validation', 'input_ids', 0, 5), self.arrays['validation']['input_ids'])

    def test_micro_batch_layout_and_dtypes(self) -> None:
        s = Shards(os.path.join(self.dir, 'ok'))
        b, A, W = 2, 2, 2  # G = 8
        train = self.arrays['train']
        for step in range(3):
            for i in range(A):
                for r in range(W):
                    start = step * 8 + i * W * b + r * b
                    batch = s.micro_batch(step, i, r, b, W, A, torch.device('cpu'))
                    np.testing.assert_array_equal(batch['input_ids'].numpy(), train['input_ids'][start:start + b])
                    self.assertEqual(batch['input_ids'].dtype, torch.int64)
                    self.assertEqual(batch['masked_positions'].dtype, torch.int64)
                    self.assertEqual(batch['attention_mask'].dtype, torch.float32)
                    self.assertEqual(batch['masked_weights'].dtype, torch.float32)
                    self.assertEqual(batch['nsp_labels'].shape, (b,))
                # The global masked-token count of micro-batch i: all W·b rows.
                lo = step * 8 + i * W * b
                self.assertEqual(s.micro_batch_count(step, i, b, W, A), int(train['masked_weights'][lo:lo + W * b].sum()))

    def test_validation_batches_split_over_ranks(self) -> None:
        s = Shards(os.path.join(self.dir, 'ok'))
        self.assertEqual(list(s.validation_batches(2)), [(0, 2), (2, 2), (4, 1)])
        self.assertEqual(list(s.validation_batches(2, rank=0, world_size=2)), [(0, 2), (4, 1)])
        self.assertEqual(list(s.validation_batches(2, rank=1, world_size=2)), [(2, 2)])

    def test_reading_past_the_end_is_one_error(self) -> None:
        s = Shards(os.path.join(self.dir, 'ok'))
        with self.assertRaisesRegex(ShardError, 'past the 24 sequences'):
            s.micro_batch(3, 0, 0, 2, 2, 2, torch.device('cpu'))

    def test_check_spec(self) -> None:
        s = Shards(os.path.join(self.dir, 'ok'))
        s.check_spec(self.spec, 2, 2, 2)
        s.check_spec(tiny_spec(batch_size=4, accumulation=2), 4, 2, 1)  # the stream does not depend on how it is cut
        with self.assertRaisesRegex(ShardError, 'prepared for 8 sequences per step; this run takes 2×2×1 = 4'):
            s.check_spec(self.spec, 2, 2, 1)
        bad = tiny_spec(sequenceLength=32)
        with self.assertRaisesRegex(ShardError, 'sequence length 16'):
            s.check_spec(bad, 2, 2, 2)

    def test_invalid_folders_are_one_clear_error(self) -> None:
        cases = [
            (lambda i: i.update(format='other'), 'not a shards index'),
            (lambda i: i.update(version=2), 'version 2'),
            (lambda i: i.update(sequenceLength='16'), 'sequenceLength must be an integer'),
            (lambda i: i['arrays'].update(attention_mask='int32'), 'arrays.attention_mask must be "uint8"'),
            (lambda i: i['arrays'].update(input_ids='float32'), 'arrays.input_ids must be one of'),
            (lambda i: i['train'].update(shards=3), 'so 4 shards, but says 3'),
            (lambda i: i['files'][0].update(path='../../etc/passwd'), 'relative path inside the folder'),
            (lambda i: i['files'][0].update(bytes=1), 'should have'),
            (lambda i: i['files'].pop(), 'does not list'),
        ]
        for change, message in cases:
            folder = self.copy()
            self.edit_index(folder, change)
            with self.assertRaisesRegex(ShardError, message):
                Shards(folder)

    def test_truncated_or_missing_files(self) -> None:
        folder = self.copy()
        with open(os.path.join(folder, 'train', 'input_ids.00001.bin'), 'r+b') as f:
            f.truncate(10)
        with self.assertRaisesRegex(ShardError, 'train/input_ids.00001.bin has 10 bytes'):
            Shards(folder)
        folder = self.copy()
        os.remove(os.path.join(folder, 'validation', 'nsp_labels.00000.bin'))
        with self.assertRaisesRegex(ShardError, 'is missing'):
            Shards(folder)
        with self.assertRaisesRegex(ShardError, 'index.json is missing'):
            Shards(os.path.join(self.dir, 'nowhere'))
        folder = self.copy()
        with open(os.path.join(folder, 'index.json'), 'w') as f:
            f.write('{"format": ')
        with self.assertRaisesRegex(ShardError, 'is not JSON'):
            Shards(folder)


if __name__ == '__main__':
    unittest.main()
