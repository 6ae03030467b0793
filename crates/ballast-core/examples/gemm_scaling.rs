//! Native GEMM timing, one thread vs the pool: `cargo run --release --example gemm_scaling`.
use ballast_core::kernels::gemm::{gemm, Gemm};
use ballast_core::parallel::set_thread_limit;
use std::time::Instant;

fn main() {
    for n in [256usize, 512, 1024] {
        let a = vec![0.5f32; n * n];
        let mut c = vec![0.0f32; n * n];
        for limit in [Some(1), None] {
            set_thread_limit(limit);
            gemm(Gemm::new(n, n, n), &a, &a, &mut c).unwrap();
            let reps = 5;
            let t = Instant::now();
            for _ in 0..reps {
                gemm(Gemm::new(n, n, n), &a, &a, &mut c).unwrap();
            }
            let s = t.elapsed().as_secs_f64() / reps as f64;
            println!("n={n} threads={limit:?}: {:.1} GFLOP/s", 2.0 * (n as f64).powi(3) / s / 1e9);
        }
    }
}
