//! In a training loop's steady state the large buffers of outputs and gradients come from the
//! engine's buffer pool (`engine::memory::pooled_bytes`), not from the allocator, and the pool
//! never changes a result.
//!
//! This file installs a global allocator that counts, per thread, the allocations of at least
//! 16 KiB (the pool's lower bound). After a few warm-up steps the only ones a training step
//! still makes are those of `matrixmultiply`, which allocates its packing buffers inside each
//! large product; the test counts those by running the step's products alone.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use engine::memory::{pooled_bytes, release_pooled_buffers};
use engine::random::NumpyRng;
use engine::{loss, Tensor};

const LARGE_BYTES: usize = 16 << 10;

thread_local! {
    static LARGE_ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

struct CountLarge;

// SAFETY: every call is forwarded to the system allocator unchanged; counting touches only a
// thread-local `Cell` with a const initializer (no allocation, no lazy initialization).
unsafe impl GlobalAlloc for CountLarge {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= LARGE_BYTES {
            let _ = LARGE_ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        }
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountLarge = CountLarge;

fn large_allocations() -> usize {
    LARGE_ALLOCATIONS.with(Cell::get)
}

/// A [784, 64, 10] ReLU network on 128 examples (f64, the course's layout), trained by
/// gradient descent: every step's inputs, weight gradients and activations are 16 KiB or more.
struct Net {
    params: Vec<Tensor<f64>>,
    x: Tensor<f64>,
    classes: Vec<usize>,
}

impl Net {
    fn new() -> Self {
        let mut rng = NumpyRng::new(1);
        let x = rng.rand::<f64>(&[784, 128]);
        let classes = (0..128).map(|i| (i * 7) % 10).collect();
        let scaled = |t: Tensor<f64>, s: f64| (t * s).to_leaf();
        let params = vec![
            scaled(rng.randn(&[64, 784]), 0.05),
            Tensor::zeros(&[64, 1]).to_leaf(),
            scaled(rng.randn(&[10, 64]), 0.1),
            Tensor::zeros(&[10, 1]).to_leaf(),
        ];
        Net { params, x, classes }
    }

    fn step(&self) -> f64 {
        let p = &self.params;
        let a1 = (p[0].matmul(&self.x) + &p[1]).relu();
        let z2 = p[2].matmul(&a1) + &p[3];
        let cost = loss::softmax_cross_entropy_indices(&z2, &self.classes);
        cost.backward();
        for p in &self.params {
            let g = p.grad().expect("a gradient");
            g.with_data(|g| {
                p.update_data(|d| d.iter_mut().zip(g).for_each(|(v, g)| *v -= 0.1 * g))
            });
            p.zero_grad();
        }
        cost.item()
    }
}

/// Large allocations made by `f`.
fn counted(f: impl FnOnce()) -> usize {
    let before = large_allocations();
    f();
    large_allocations() - before
}

#[test]
fn a_training_step_in_its_steady_state_allocates_only_inside_matrixmultiply() {
    // The allocator counts per thread, and this step's larger products (12.8 MFLOP) are split
    // across the engine's threads: which blocks, and so which packing buffers, the calling
    // thread takes would depend on scheduling. On one thread every allocation is counted.
    engine::set_num_threads(1);
    let net = Net::new();
    let first = net.step();
    for _ in 0..2 {
        net.step();
    }
    assert!(pooled_bytes() > 0, "the pool keeps the step's buffers");

    // The step's five products (forward W1·X and W2·A1; backward dZ2·A1ᵀ, W2ᵀ·dZ2, dZ1·Xᵀ)
    // on their own, with the same shapes and layouts: their outputs come from the pool, so
    // what they allocate is matrixmultiply's packing.
    let p = &net.params;
    let a1 = Tensor::<f64>::ones(&[64, 128]);
    let dz2 = Tensor::<f64>::ones(&[10, 128]);
    let products = || {
        let w1 = p[0].detach();
        let w2 = p[2].detach();
        drop(w1.matmul(&net.x));
        drop(w2.matmul(&a1));
        drop(dz2.matmul(&a1.t()));
        drop(w2.t().matmul(&dz2));
        drop(a1.matmul(&net.x.t()));
    };
    products();
    let packing = counted(products);

    let mut last = first;
    let in_steps = counted(|| {
        for _ in 0..5 {
            last = net.step();
        }
    });
    assert_eq!(
        in_steps,
        5 * packing,
        "large allocations in 5 steady-state steps, against 5 × {packing} in the products"
    );
    assert!(last < first, "the loop trains: {first} -> {last}");

    // Without the pool (released before the step) the same step allocates more: the count can
    // see the buffers the pool saves.
    release_pooled_buffers();
    assert!(
        counted(|| {
            net.step();
        }) > packing
    );
}

#[test]
fn the_pool_changes_no_result() {
    // The same six steps with the pool at work (it fills from the second step on) and with it
    // emptied before every step, so that every buffer is fresh: the same bits.
    let pooled = Net::new();
    let costs: Vec<f64> = (0..6).map(|_| pooled.step()).collect();
    let fresh = Net::new();
    let fresh_costs: Vec<f64> = (0..6)
        .map(|_| {
            release_pooled_buffers();
            fresh.step()
        })
        .collect();
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&costs), bits(&fresh_costs));
    for (p, q) in pooled.params.iter().zip(&fresh.params) {
        assert_eq!(bits(&p.to_vec()), bits(&q.to_vec()));
    }
}
