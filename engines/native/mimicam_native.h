/* mimicam native GPU post-processing: a small C ABI loaded with ctypes (engines/native_lib.py).
 *
 * Every function enqueues work on the caller's CUDA stream (a CUstream / cudaStream_t passed as
 * void*) and returns 0 or a cudaError_t code (mm_error_string gives its text). No function
 * synchronises and none allocates, so they can be captured into a CUDA graph.
 * Images are 8-bit BGR, row-major HxWx3 with a row pitch in bytes.
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

/* float CHW (3xHxW, BGR in [0,1]) -> uint8 HWC BGR, rounded and clamped. */
MM_API int mm_chw_to_hwc_u8(const float* chw, unsigned char* hwc, int h, int w, int pitch, void* stream);

/* Paste the generated crop (3xSxS float BGR in [0,1]) into the full portrait.
 * dst = base * (1 - a) + crop * a with a = mask * edge feather, sampled bilinearly at
 * (u, v) = A (x, y, 1): A (a0..a5, row-major 2x3) maps portrait pixel centres to crop pixel
 * centres. Pixels that map outside the crop are copied from base. feather: width in crop pixels
 * of the linear fade at the crop border (0 = none). base and dst may not alias. */
MM_API int mm_paste_crop(const float* crop, const float* mask, int size, const unsigned char* base,
                         unsigned char* dst, int h, int w, int pitch, float a0, float a1, float a2,
                         float a3, float a4, float a5, float feather, void* stream);

/* img += strength * residual (int8 HxWx3, same pitch layout with 3 bytes per pixel), clamped. */
MM_API int mm_add_residual(unsigned char* img, const signed char* residual, int h, int w, int pitch,
                           float strength, void* stream);

/* Alpha-blend a BGRA uint8 overlay (bh x bw, tightly packed) at (x0, y0), clipped to the image. */
MM_API int mm_blend_bgra(unsigned char* img, int h, int w, int pitch, const unsigned char* bgra, int bh,
                         int bw, int x0, int y0, void* stream);

/* CUDA graph capture of whatever is enqueued on `stream` between begin and end (thread-local mode). */
MM_API int mm_graph_begin(void* stream);
MM_API int mm_graph_end(void* stream, void** exec_out);
MM_API int mm_graph_launch(void* exec, void* stream);
MM_API int mm_graph_destroy(void* exec);

#ifdef __cplusplus
}
#endif

#endif /* MIMICAM_NATIVE_H */
