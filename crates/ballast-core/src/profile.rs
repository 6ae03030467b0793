//! Where a training step spends its time, per layer: forward, backward and optimizer.
//!
//! The core has no clock of its own on wasm32-unknown-unknown (`std::time::Instant` panics
//! there), so the host installs one with [`set_clock`]; natively `Instant` is used.

use std::sync::OnceLock;

static CLOCK: OnceLock<fn() -> f64> = OnceLock::new();

/// Installs the millisecond clock used for profiles (the wasm boundary passes
/// `performance.now`). Only the first call has an effect.
pub fn set_clock(clock: fn() -> f64) {
    let _ = CLOCK.set(clock);
}

/// Milliseconds from an arbitrary origin; 0 when no clock is available.
pub fn now_ms() -> f64 {
    if let Some(clock) = CLOCK.get() {
        return clock();
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        use std::time::Instant;
        static START: OnceLock<Instant> = OnceLock::new();
        return START.get_or_init(Instant::now).elapsed().as_secs_f64() * 1e3;
    }
    #[allow(unreachable_code)]
    0.0
}

/// Milliseconds spent in one layer during the last training step.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LayerTime {
    pub name: String,
    pub kind: &'static str,
    pub forward_ms: f64,
    pub backward_ms: f64,
}

/// The time of the last training step, split by layer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StepProfile {
    pub layers: Vec<LayerTime>,
    /// The loss (forward and backward), target checks and bookkeeping.
    pub other_ms: f64,
    pub optimizer_ms: f64,
    pub total_ms: f64,
}
