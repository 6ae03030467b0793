//! 2-D pooling kernels (NHWC).
