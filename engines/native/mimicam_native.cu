// mimicam native GPU post-processing kernels. See mimicam_native.h for the contract.
#include "mimicam_native.h"

#include <cuda_runtime.h>
#include <stdint.h>

namespace {

constexpr int kAbiVersion = 1;
constexpr int kBlockX = 32;
constexpr int kBlockY = 8;

__device__ __forceinline__ unsigned char to_u8(float v) {
  v = fminf(fmaxf(v, 0.0f), 255.0f);
  return static_cast<unsigned char>(__float2int_rn(v));
}

__device__ __forceinline__ float clamp01(float v) { return fminf(fmaxf(v, 0.0f), 1.0f); }

// Bilinear sample of one SxS float plane at crop pixel-centre coordinates (u, v), edges clamped.
__device__ __forceinline__ float bilinear(const float* plane, int size, float u, float v) {
  u = fminf(fmaxf(u, 0.0f), size - 1.0f);
  v = fminf(fmaxf(v, 0.0f), size - 1.0f);
  const int x0 = static_cast<int>(u);
  const int y0 = static_cast<int>(v);
  const int x1 = min(x0 + 1, size - 1);
  const int y1 = min(y0 + 1, size - 1);
  const float fx = u - x0;
  const float fy = v - y0;
  const float top = plane[y0 * size + x0] * (1.0f - fx) + plane[y0 * size + x1] * fx;
  const float bottom = plane[y1 * size + x0] * (1.0f - fx) + plane[y1 * size + x1] * fx;
  return top * (1.0f - fy) + bottom * fy;
}

__global__ void chw_to_hwc_u8(const float* __restrict__ chw, unsigned char* __restrict__ hwc, int h, int w,
                              int pitch) {
  const int x = blockIdx.x * blockDim.x + threadIdx.x;
  const int y = blockIdx.y * blockDim.y + threadIdx.y;
  if (x >= w || y >= h) return;
  const int plane = h * w;
  const int i = y * w + x;
  unsigned char* out = hwc + static_cast<size_t>(y) * pitch + 3 * x;
  for (int c = 0; c < 3; ++c) out[c] = to_u8(chw[c * plane + i] * 255.0f);
}

__global__ void paste_crop(const float* __restrict__ crop, const float* __restrict__ mask, int size,
                           const unsigned char* __restrict__ base, unsigned char* __restrict__ dst, int h,
                           int w, int pitch, float a0, float a1, float a2, float a3, float a4, float a5,
                           float feather) {
  const int x = blockIdx.x * blockDim.x + threadIdx.x;
  const int y = blockIdx.y * blockDim.y + threadIdx.y;
  if (x >= w || y >= h) return;
  const size_t off = static_cast<size_t>(y) * pitch + 3 * x;
  const float u = a0 * x + a1 * y + a2;
  const float v = a3 * x + a4 * y + a5;
  const float lo = -0.5f;
  const float hi = size - 0.5f;
  if (u < lo || v < lo || u > hi || v > hi) {
    for (int c = 0; c < 3; ++c) dst[off + c] = base[off + c];
    return;
  }
  float alpha = clamp01(bilinear(mask, size, u, v));
  if (feather > 0.0f) {
    const float edge = fminf(fminf(u - lo, v - lo), fminf(hi - u, hi - v));
    alpha *= clamp01(edge / feather);
  }
  const int plane = size * size;
  for (int c = 0; c < 3; ++c) {
    const float g = bilinear(crop + c * plane, size, u, v) * 255.0f;
    dst[off + c] = to_u8(base[off + c] * (1.0f - alpha) + g * alpha);
  }
}

__global__ void add_residual(unsigned char* __restrict__ img, const signed char* __restrict__ residual, int h,
                             int w, int pitch, float strength) {
  const int x = blockIdx.x * blockDim.x + threadIdx.x;
  const int y = blockIdx.y * blockDim.y + threadIdx.y;
  if (x >= w || y >= h) return;
  const size_t off = static_cast<size_t>(y) * pitch + 3 * x;
  const size_t roff = (static_cast<size_t>(y) * w + x) * 3;
  for (int c = 0; c < 3; ++c) img[off + c] = to_u8(img[off + c] + strength * residual[roff + c]);
}

__global__ void blend_bgra(unsigned char* __restrict__ img, int h, int w, int pitch,
                           const unsigned char* __restrict__ bgra, int bh, int bw, int x0, int y0) {
  const int bx = blockIdx.x * blockDim.x + threadIdx.x;
  const int by = blockIdx.y * blockDim.y + threadIdx.y;
  if (bx >= bw || by >= bh) return;
  const int x = x0 + bx;
  const int y = y0 + by;
  if (x < 0 || y < 0 || x >= w || y >= h) return;
  const unsigned char* src = bgra + (static_cast<size_t>(by) * bw + bx) * 4;
  const float a = src[3] * (1.0f / 255.0f);
  unsigned char* out = img + static_cast<size_t>(y) * pitch + 3 * x;
  for (int c = 0; c < 3; ++c) out[c] = to_u8(out[c] * (1.0f - a) + src[c] * a);
}

dim3 grid_for(int w, int h) { return dim3((w + kBlockX - 1) / kBlockX, (h + kBlockY - 1) / kBlockY); }

int launched() { return static_cast<int>(cudaGetLastError()); }

bool bad_image(int h, int w, int pitch) { return h <= 0 || w <= 0 || pitch < 3 * w; }

}  // namespace

extern "C" {

int mm_version(void) { return kAbiVersion; }

const char* mm_error_string(int code) { return cudaGetErrorString(static_cast<cudaError_t>(code)); }

int mm_chw_to_hwc_u8(const float* chw, unsigned char* hwc, int h, int w, int pitch, void* stream) {
  if (bad_image(h, w, pitch)) return cudaErrorInvalidValue;
  chw_to_hwc_u8<<<grid_for(w, h), dim3(kBlockX, kBlockY), 0, static_cast<cudaStream_t>(stream)>>>(chw, hwc, h, w,
                                                                                                pitch);
  return launched();
}

int mm_paste_crop(const float* crop, const float* mask, int size, const unsigned char* base, unsigned char* dst,
                  int h, int w, int pitch, float a0, float a1, float a2, float a3, float a4, float a5,
                  float feather, void* stream) {
  if (bad_image(h, w, pitch) || size <= 1 || base == dst) return cudaErrorInvalidValue;
  paste_crop<<<grid_for(w, h), dim3(kBlockX, kBlockY), 0, static_cast<cudaStream_t>(stream)>>>(
      crop, mask, size, base, dst, h, w, pitch, a0, a1, a2, a3, a4, a5, feather);
  return launched();
}

int mm_add_residual(unsigned char* img, const signed char* residual, int h, int w, int pitch, float strength,
                    void* stream) {
  if (bad_image(h, w, pitch)) return cudaErrorInvalidValue;
  add_residual<<<grid_for(w, h), dim3(kBlockX, kBlockY), 0, static_cast<cudaStream_t>(stream)>>>(
      img, residual, h, w, pitch, strength);
  return launched();
}

int mm_blend_bgra(unsigned char* img, int h, int w, int pitch, const unsigned char* bgra, int bh, int bw, int x0,
                  int y0, void* stream) {
  if (bad_image(h, w, pitch) || bh <= 0 || bw <= 0) return cudaErrorInvalidValue;
  blend_bgra<<<grid_for(bw, bh), dim3(kBlockX, kBlockY), 0, static_cast<cudaStream_t>(stream)>>>(
      img, h, w, pitch, bgra, bh, bw, x0, y0);
  return launched();
}

int mm_graph_begin(void* stream) {
  return static_cast<int>(
      cudaStreamBeginCapture(static_cast<cudaStream_t>(stream), cudaStreamCaptureModeThreadLocal));
}

int mm_graph_end(void* stream, void** exec_out) {
  if (exec_out == nullptr) return cudaErrorInvalidValue;
  *exec_out = nullptr;
  cudaGraph_t graph = nullptr;
  cudaError_t err = cudaStreamEndCapture(static_cast<cudaStream_t>(stream), &graph);
  if (err != cudaSuccess) return static_cast<int>(err);
  cudaGraphExec_t exec = nullptr;
  err = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  if (err != cudaSuccess) return static_cast<int>(err);
  *exec_out = exec;
  return 0;
}

int mm_graph_launch(void* exec, void* stream) {
  return static_cast<int>(
      cudaGraphLaunch(static_cast<cudaGraphExec_t>(exec), static_cast<cudaStream_t>(stream)));
}

int mm_graph_destroy(void* exec) {
  return exec == nullptr ? 0 : static_cast<int>(cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(exec)));
}

}  // extern "C"
