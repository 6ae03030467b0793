//! Conv2D kernels (NHWC input, HWIO filter).
