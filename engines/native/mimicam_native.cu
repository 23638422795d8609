// mimicam native CUDA helpers: CUDA-graph capture of the TensorRT generator launch (pycuda has no
// stream-capture API). See mimicam_native.h for the contract.
#include "mimicam_native.h"

#include <cuda_runtime.h>

namespace {

constexpr int kAbiVersion = 2;

}  // namespace

extern "C" {

int mm_version(void) { return kAbiVersion; }

const char* mm_error_string(int code) { return cudaGetErrorString(static_cast<cudaError_t>(code)); }

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
