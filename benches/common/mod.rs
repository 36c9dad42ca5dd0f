//! A criterion measurement of the benchmark thread's CPU time.
//!
//! The machines these benchmarks run on are often shared (CI runners, several builds at once);
//! wall-clock time then counts the time other processes held the CPU, and ratios between two
//! implementations swing by tens of percent from run to run. The thread's CPU time
//! (`clock_gettime(CLOCK_THREAD_CPUTIME_ID)`, nanosecond resolution) leaves that out. Both
//! sides of every comparison are single-threaded (`matrixmultiply` is built without its
//! `threading` feature), so their CPU time is their run time. Off Unix, wall-clock time is
//! used instead.

use std::time::Instant;

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::Throughput;

/// CPU time of the calling thread, in nanoseconds, or wall-clock time if unavailable.
pub struct ThreadCpuTime;

/// CPU time of the calling thread in nanoseconds (`None` off Unix).
#[cfg(unix)]
pub fn cpu_nanos() -> Option<u64> {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid, writable timespec for the duration of the call.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    (status == 0).then(|| t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64)
}

/// CPU time of the whole process (all threads) in nanoseconds (`None` off Unix).
#[cfg(unix)]
#[allow(dead_code)] // only the workloads benchmark runs threads
pub fn process_cpu_nanos() -> Option<u64> {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid, writable timespec for the duration of the call.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) };
    (status == 0).then(|| t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64)
}

/// CPU time of the whole process (all threads) in nanoseconds (`None` off Unix).
#[cfg(not(unix))]
#[allow(dead_code)] // only the workloads benchmark runs threads
pub fn process_cpu_nanos() -> Option<u64> {
    None
}

/// CPU time of the calling thread in nanoseconds (`None` off Unix).
#[cfg(not(unix))]
pub fn cpu_nanos() -> Option<u64> {
    None
}

impl Measurement for ThreadCpuTime {
    type Intermediate = (Option<u64>, Instant);
    type Value = f64;

    fn start(&self) -> Self::Intermediate {
        (cpu_nanos(), Instant::now())
    }

    fn end(&self, (cpu, wall): Self::Intermediate) -> f64 {
        match (cpu, cpu_nanos()) {
            (Some(a), Some(b)) => (b - a) as f64,
            _ => wall.elapsed().as_nanos() as f64,
        }
    }

    fn add(&self, a: &f64, b: &f64) -> f64 {
        a + b
    }

    fn zero(&self) -> f64 {
        0.0
    }

    fn to_f64(&self, value: &f64) -> f64 {
        *value
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        &Nanoseconds
    }
}

/// Prints nanosecond values in ns/µs/ms/s and element throughput in G/s.
struct Nanoseconds;

impl ValueFormatter for Nanoseconds {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (factor, unit) = if typical < 1e3 {
            (1.0, "ns")
        } else if typical < 1e6 {
            (1e-3, "µs")
        } else if typical < 1e9 {
            (1e-6, "ms")
        } else {
            (1e-9, "s")
        };
        values.iter_mut().for_each(|v| *v *= factor);
        unit
    }

    fn scale_throughputs(
        &self,
        _typical: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        let (count, unit) = match *throughput {
            Throughput::Bytes(n) | Throughput::BytesDecimal(n) => (n as f64, "GB/s"),
            Throughput::Elements(n) => (n as f64, "Gelem/s"),
        };
        // Per-iteration nanoseconds to billions of units per second.
        values.iter_mut().for_each(|v| *v = count / *v);
        unit
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}
