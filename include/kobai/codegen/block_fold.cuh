// How generated kernels fold values across threads, embedded by codegen/cuda.cpp after the shared
// functions (with #include inside a raw string literal, whose delimiters are the first and last lines).
R"kobai_block_fold(struct kobai_sum { template <class T> __device__ __forceinline__ T operator()(T a, T b) const { return a + b; } };
struct kobai_fold_max { template <class T> __device__ __forceinline__ T operator()(T a, T b) const { return max_(a, b); } };
struct kobai_fold_prod { template <class T> __device__ __forceinline__ T operator()(T a, T b) const { return a * b; } };
struct kobai_fold_min { template <class T> __device__ __forceinline__ T operator()(T a, T b) const { return min_(a, b); } };
// A block's values folded into thread 0's: warp shuffles, one slot per warp in shared memory, then
// the first warp. Every thread of the block calls it.
template <class Fold> __device__ __forceinline__ double kobai_block_fold(double v, double identity, Fold fold) {
#ifdef __CUDACC__
  __shared__ double warp_values[32];
  for (int offset = 16; offset > 0; offset /= 2) v = fold(v, __shfl_down_sync(0xffffffffu, v, offset));
  const unsigned lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  __syncthreads();
  if (lane == 0) warp_values[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < (blockDim.x + 31) / 32 ? warp_values[lane] : identity;
    for (int offset = 16; offset > 0; offset /= 2) v = fold(v, __shfl_down_sync(0xffffffffu, v, offset));
  }
  return v;
#else
  return v;  // host emulation: one thread per block
#endif
}
)kobai_block_fold"
