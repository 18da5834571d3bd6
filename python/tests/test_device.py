"""convbert_torch.device: device/precision/compile resolution and feature detection on this machine's torch."""
from __future__ import annotations

import unittest

import torch

import helpers  # noqa: F401  (puts python/ on sys.path)
from convbert_torch import device as devices


class DeviceTest(unittest.TestCase):
    def test_cpu_fp32(self) -> None:
        s = devices.setup('cpu', 'fp32', False)
        self.assertEqual(s.device.type, 'cpu')
        report = s.report()
        self.assertEqual(report['precision'], 'fp32')
        self.assertEqual(report['compile'], False)
        self.assertEqual(report['torch'], torch.__version__)
        self.assertEqual(set(report['features']), {'compile', 'fusedAdamW', 'bf16', 'nccl'})
        self.assertEqual(report['device']['type'], 'cpu')

    def test_auto_prefers_cuda_then_mps(self) -> None:
        s = devices.setup('auto', 'fp32', False)
        expected = 'cuda' if torch.cuda.is_available() else 'mps' if devices.mps_available() else 'cpu'
        self.assertEqual(s.device.type, expected)

    def test_tf32_is_fp32_off_cuda(self) -> None:
        s = devices.setup('cpu', 'tf32', False)
        self.assertEqual(s.precision, 'fp32')
        self.assertTrue(any('tf32' in n for n in s.notes))

    def test_unknown_or_missing_devices(self) -> None:
        with self.assertRaisesRegex(devices.SetupError, 'unknown device "tpu"'):
            devices.setup('tpu')
        with self.assertRaisesRegex(devices.SetupError, 'unknown precision "fp8"'):
            devices.setup('cpu', 'fp8')
        if not torch.cuda.is_available():
            with self.assertRaises(devices.SetupError) as ctx:
                devices.setup('cuda')
            self.assertIn('sees no CUDA device', str(ctx.exception))
            self.assertTrue(ctx.exception.hint)

    def test_bf16_autocast_or_clear_refusal(self) -> None:
        if devices.bf16_autocast_supported('cpu'):
            s = devices.setup('cpu', 'bf16', False)
            self.assertEqual(s.precision, 'bf16')
            w = torch.ones(4, 4)
            with s.autocast():
                y = w @ w
            self.assertEqual(y.dtype, torch.bfloat16)
            self.assertEqual(w.dtype, torch.float32)  # master weights stay fp32
        else:
            with self.assertRaisesRegex(devices.SetupError, 'bf16 is not supported on cpu'):
                devices.setup('cpu', 'bf16', False)

    def test_compile_only_where_present(self) -> None:
        s = devices.setup('cpu', 'fp32', True)
        self.assertEqual(s.compile, devices.has_compile())
        if not devices.has_compile():
            self.assertTrue(any('torch.compile' in n for n in s.notes))

    def test_fused_adamw_detection_matches_signature(self) -> None:
        import inspect

        has = 'fused' in inspect.signature(torch.optim.AdamW.__init__).parameters
        self.assertEqual(devices.has_fused_adamw(), has)

    def test_memory_report(self) -> None:
        m = devices.memory_bytes(torch.device('cpu'))
        self.assertGreater(m['memoryBytes'], 10 * 2**20)
        self.assertGreaterEqual(m['peakMemoryBytes'], m['memoryBytes'])

    def test_out_of_memory_detection(self) -> None:
        self.assertTrue(devices.is_out_of_memory(RuntimeError('CUDA out of memory. Tried to allocate 2.00 GiB')))
        self.assertFalse(devices.is_out_of_memory(RuntimeError('shape mismatch')))


if __name__ == '__main__':
    unittest.main()
