/**
 * Choosing the adapter and asking it for a device with its real limits. The device's limits default to WebGPU's
 * minimums (8 storage buffers per stage, 128 MiB bindings) unless asked for: a BERT step needs more.
 */
import type { DeviceReport } from '../backend';
import type { AdapterLike, DeviceLike, GpuLike } from './dawn';

/** The limits requested at the adapter's values: the ones TF.js's kernels and our model's buffers run into. */
export const REQUESTED_LIMITS = [
  'maxStorageBuffersPerShaderStage',
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
] as const;

/** Whether an adapter is a software rasteriser rather than a GPU. */
export function isSoftwareAdapter(adapter: Pick<AdapterLike, 'info' | 'isFallbackAdapter'>): boolean {
  const info = adapter.info ?? {};
  if (adapter.isFallbackAdapter || info.isFallbackAdapter) return true;
  if ((info.architecture ?? '').toLowerCase() === 'software') return true;
  return /llvmpipe|lavapipe|swiftshader|software/i.test(`${info.description ?? ''} ${info.device ?? ''}`);
}

export function describeAdapter(adapter: AdapterLike, limits: Record<string, number>): DeviceReport {
  const info = adapter.info ?? {};
  return {
    vendor: info.vendor || 'unknown vendor',
    architecture: info.architecture || info.device || 'unknown architecture',
    description: info.description || info.device || '',
    software: isSoftwareAdapter(adapter),
    limits,
  };
}

/** "nvidia nvidia-h200 (NVIDIA: 580.159.04)", "software adapter: mesa software (llvmpipe …)". */
export function adapterLine(d: DeviceReport): string {
  const name = `${d.vendor} ${d.architecture}${d.description ? ` (${d.description})` : ''}`;
  return d.software ? `software adapter: ${name}` : name;
}

/** Why `auto` passes over a software adapter. */
export function softwareRefusal(report: DeviceReport): string {
  return `only a software adapter is available (${report.vendor} ${report.architecture}: ${report.description}), not a GPU; name it to use it anyway (--backend webgpu, or training.backend "webgpu")`;
}

export type AdapterResult =
  | { ok: true; adapter: AdapterLike; device: DeviceLike; report: DeviceReport }
  | { ok: false; reason: string };

/** Why no adapter came back, with the fix for the platform. */
export function noAdapterReason(platform: string = process.platform): string {
  if (platform === 'linux') {
    return 'WebGPU found no GPU adapter: install the GPU driver and the Vulkan loader (Debian/Ubuntu: libvulkan1 and libglvnd0; NVIDIA also needs its libGLX_nvidia)';
  }
  if (platform === 'win32') return 'WebGPU found no GPU adapter: install or update the GPU driver (D3D12 or Vulkan)';
  if (platform === 'darwin') return 'WebGPU found no GPU adapter (Metal): macOS 11 or newer is needed';
  return 'WebGPU found no GPU adapter';
}

/**
 * The high-performance adapter and a device with its limits. `allowSoftware`: take a software adapter (asked for by
 * name); else a software adapter is refused with the reason.
 */
export async function openAdapter(gpu: GpuLike, allowSoftware: boolean): Promise<AdapterResult> {
  let adapter: AdapterLike | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (err) {
    return { ok: false, reason: `${noAdapterReason()} (${(err as Error).message.split('\n')[0]})` };
  }
  if (!adapter) return { ok: false, reason: noAdapterReason() };
  const requested: Record<string, number> = {};
  for (const k of REQUESTED_LIMITS) {
    const v = adapter.limits[k];
    if (typeof v === 'number' && Number.isFinite(v)) requested[k] = v;
  }
  const report = describeAdapter(adapter, requested);
  if (report.software && !allowSoftware) {
    return { ok: false, reason: softwareRefusal(report) };
  }
  const features = ['timestamp-query'].filter((f) => adapter.features.has(f));
  try {
    const device = await adapter.requestDevice({ requiredLimits: requested, requiredFeatures: features });
    return { ok: true, adapter, device, report };
  } catch (err) {
    return { ok: false, reason: `the adapter (${adapterLine(report)}) refused a device with its own limits: ${(err as Error).message.split('\n')[0]}` };
  }
}
