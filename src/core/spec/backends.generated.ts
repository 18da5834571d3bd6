/**
 * Every engine's backends, in the order `auto` tries them, with what the spec schema and the fit check need.
 * Generated from the engine registry (src/engines/index.ts) by `npm run generate:engines`. Do not edit by hand.
 */
export const ENGINE_BACKENDS = [
  {
    engine: "tfjs",
    name: "tfjs-node-gpu",
    description: "`tfjs-node-gpu`: CUDA through `@tensorflow/tfjs-node-gpu` (an optional add-on you install).",
    memory: { limit: "unknown", why: "tensors live in the GPU's memory, which is not known here" },
  },
  {
    engine: "tfjs",
    name: "webgpu",
    description: "`webgpu`: any GPU through WebGPU (Dawn from the optional npm package `webgpu`: Vulkan, Metal, D3D12); needs a GPU driver only. `auto` uses hardware adapters only; name it to use a software adapter.",
    memory: { limit: "unknown", why: "tensors live in the GPU's memory, which WebGPU does not report" },
  },
  {
    engine: "tfjs",
    name: "tfjs-node",
    description: "`tfjs-node`: native TensorFlow on the CPU through `@tensorflow/tfjs-node` (optional add-on).",
    memory: { limit: "machine", why: "native TensorFlow can use the machine's memory" },
  },
  {
    engine: "tfjs",
    name: "blas",
    description: "`blas`: wasm with its matrix products on the machine's BLAS (OpenBLAS, Accelerate) and its element-wise work on threaded native kernels, through a native addon built at install; where it could not be built, `auto` goes on to wasm and says why.",
    memory: { limit: 4026531840, why: "the tensors stay on the wasm heap, which addresses at most 4 GiB" },
  },
  {
    engine: "tfjs",
    name: "wasm",
    description: "`wasm`: WebAssembly with SIMD (and threads where possible); ships with ConvBERT Studio.",
    memory: { limit: 4026531840, why: "WebAssembly addresses at most 4 GiB, about 256 MiB of which TF.js needs itself" },
  },
  {
    engine: "tfjs",
    name: "cpu",
    description: "`cpu`: plain JavaScript. Always loads, 30–50× slower than wasm.",
    memory: { limit: "machine", why: "plain JavaScript typed arrays can use the machine's memory" },
  },
  {
    engine: "torch",
    name: "cuda",
    description: "`cuda`: PyTorch on an NVIDIA GPU (CUDA; NCCL across GPUs). Needs Python with a CUDA build of PyTorch.",
    memory: { limit: "unknown", why: "the model lives in the GPU's memory, which is not known here" },
  },
  {
    engine: "torch",
    name: "mps",
    description: "`mps`: PyTorch on Apple silicon's GPU (Metal). Needs Python with PyTorch.",
    memory: { limit: "unknown", why: "the model lives in the GPU's (unified) memory, which is not known here" },
  },
  {
    engine: "torch",
    name: "torch-cpu",
    description: "`torch-cpu`: PyTorch on the CPU (its BLAS; gloo across processes). Needs Python with PyTorch.",
    memory: { limit: "machine", why: "PyTorch on the CPU can use the machine's memory" },
  },
] as const;

/** Every engine, in the registry's order (the first is the default when `auto` prefers none). */
export const ENGINE_DESCRIPTIONS = [
  { id: "tfjs", description: "TensorFlow.js in a Node process (the trainer), on one of its backends." },
  { id: "torch", description: "PyTorch in Python worker processes (one, or many under torchrun), driven by the same trainer loop." },
] as const;
