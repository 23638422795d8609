/* mimicam native CUDA helpers: a small C ABI loaded with ctypes (engines/native_lib.py).
 *
 * CUDA-graph capture of what the TensorRT runtime enqueues on its stream (pycuda has no stream
 * capture). Streams are CUstream / cudaStream_t passed as void*; every function returns 0 or a
 * cudaError_t code (mm_error_string gives its text). Composition, the mark and the badge are not
 * done here: every frame goes through the CPU Finisher, so no frame can skip them.
 */
#ifndef MIMICAM_NATIVE_H
#define MIMICAM_NATIVE_H

#ifdef _WIN32
#define MM_API __declspec(dllexport)
#else
#define MM_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ABI version: bumped whenever a signature below changes. */
MM_API int mm_version(void);
MM_API const char* mm_error_string(int code);

/* CUDA graph capture of whatever is enqueued on `stream` between begin and end (thread-local mode). */
MM_API int mm_graph_begin(void* stream);
MM_API int mm_graph_end(void* stream, void** exec_out);
MM_API int mm_graph_launch(void* exec, void* stream);
MM_API int mm_graph_destroy(void* exec);

#ifdef __cplusplus
}
#endif

#endif /* MIMICAM_NATIVE_H */
