//! Shapes whose element count overflows `usize` (or exceeds `isize::MAX`) are refused with a
//! panic that names the operation and the shape, in every build: the product of the dimensions
//! is computed with checked arithmetic, never wrapped around into a small tensor that a later
//! kernel would read past the end of (the raw-pointer matmul segfaulted that way).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::Command;

use engine::Tensor;

/// `3 · B` is `2` modulo 2^64, so a wrapping product takes `[3, B]` for a 2-element shape.
const B: usize = 6148914691236517206;

/// The message of the panic `f` raises; fails the test if it does not panic.
fn panic_message<R>(f: impl FnOnce() -> R) -> String {
    let payload = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(_) => panic!("expected a panic, but the call returned"),
        Err(payload) => payload,
    };
    if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else {
        String::from("<non-string panic payload>")
    }
}

/// Asserts that `f` panics with a message that starts with `op` and contains `shape`.
#[track_caller]
fn assert_refused<R>(op: &str, shape: &str, f: impl FnOnce() -> R) {
    let message = panic_message(f);
    assert!(
        message.starts_with(&format!("{op}:")) && message.contains(shape),
        "expected a panic naming `{op}` and {shape}, got: {message}"
    );
}

#[test]
fn wrapping_shapes_are_refused_by_constructors() {
    assert_refused("zeros", "[3, 6148914691236517206]", || {
        Tensor::<f64>::zeros(&[3, B])
    });
    // 2^64 elements: the wrapping product is 0, which made an empty tensor.
    assert_refused("zeros", "[4294967296, 4294967296]", || {
        Tensor::<f64>::zeros(&[1 << 32, 1 << 32])
    });
    assert_refused("ones", "[6148914691236517206, 3]", || {
        Tensor::<f32>::ones(&[B, 3])
    });
    assert_refused("full", "[3, 6148914691236517206]", || {
        Tensor::<f64>::full(&[3, B], 1.0)
    });
    assert_refused("from_vec", "[3, 6148914691236517206]", || {
        Tensor::<f64>::from_vec(vec![1.0, 2.0], &[3, B])
    });
    assert_refused("eye", "[4294967296, 4294967296]", || {
        Tensor::<f64>::eye(1 << 32)
    });
    // Fits a usize but not a buffer: 2^61 f64 are 2^64 bytes.
    assert_refused("zeros", "[2305843009213693952]", || {
        Tensor::<f64>::zeros(&[1 << 61])
    });
    assert_refused("arange", "inf", || {
        Tensor::<f64>::arange(0.0, f64::INFINITY, 1.0)
    });
}

#[test]
fn wrapping_shapes_are_refused_by_views_and_shape_ops() {
    let pair = Tensor::<f64>::from_vec(vec![1.0, 2.0], &[2]);
    assert_refused("reshape", "[3, 6148914691236517206]", || {
        pair.reshape(&[3, B])
    });
    let one = Tensor::<f64>::scalar(1.0);
    assert_refused("broadcast_to", "[3, 6148914691236517206]", || {
        one.broadcast_to(&[3, B])
    });
    // A huge broadcast view is fine while its size is addressable...
    let column = one.broadcast_to(&[B, 1]);
    assert_eq!(column.numel(), B);
    // ...but an operation whose result is not must refuse it.
    let row = one.broadcast_to(&[1, B]);
    assert_refused("add", "[6148914691236517206, 6148914691236517206]", || {
        &column + &row
    });
    assert_refused("concat", "axis 0", || {
        Tensor::concat(&[&column, &column, &column, &column], 0)
    });
    assert_refused("narrow", "18446744073709551615", || {
        pair.narrow(0, usize::MAX, 2)
    });
    let m = Tensor::<f64>::from_vec(vec![1.0, 2.0], &[2, 1]);
    assert_refused("index_add", "[2, 6148914691236517206]", || {
        m.index_add(1, &[0], B)
    });
    assert_refused("index_select", "[6148914691236517206, 3]", || {
        column.index_select(1, &[0, 0, 0])
    });
    // An index of shape [3, B] has 2 elements by a wrapping count.
    let wide = one.broadcast_to(&[1, B]);
    assert_refused("gather", "[3, 6148914691236517206]", || {
        wide.gather(0, &[0, 0], &[3, B])
    });
}

#[test]
fn matmul_refuses_an_output_too_large_to_address() {
    let one = Tensor::<f64>::scalar(1.0);
    let column = one.broadcast_to(&[B, 1]);
    let row = one.broadcast_to(&[1, B]);
    assert_refused(
        "matmul",
        "[6148914691236517206, 6148914691236517206]",
        || column.matmul(&row),
    );
    // Batch dimensions count too: (B, 1, 1, 1) @ (3, 1, 1) broadcasts to B·3 batches.
    let a = one.broadcast_to(&[B, 1, 1, 1]);
    let b = one.broadcast_to(&[3, 1, 1]);
    assert_refused("matmul", "[6148914691236517206, 3, 1, 1]", || a.matmul(&b));
    // Copying a view too large for a buffer is refused by name as well.
    assert_refused("reshape", "[6148914691236517206]", || a.reshape(&[B]));
}

#[test]
fn matmul_with_an_empty_inner_dimension_gives_zeros() {
    // k = 0: nothing to sum. Strided empty operands must not reach gemm's pointers.
    let a = Tensor::<f64>::zeros(&[2, 3, 0]);
    let b = Tensor::<f64>::zeros(&[2, 0, 4]);
    let c = a.matmul(&b);
    assert_eq!(c.shape(), &[2, 3, 4]);
    assert_eq!(c.to_vec(), vec![0.0; 24]);
}

/// The sequence from the bug report, run in a child process so that a segmentation fault (what
/// a release build of the old code did) fails this test instead of killing the test binary.
/// The child is the ignored test below, run alone. (Miri cannot spawn processes.)
#[test]
#[cfg_attr(miri, ignore)]
fn the_reported_segfault_is_a_clean_panic() {
    let exe = std::env::current_exe().expect("test binary path");
    // libtest names a test by its module path without the crate's name.
    let child = match module_path!().split_once("::") {
        Some((_, module)) => format!("{module}::reported_sequence_child"),
        None => "reported_sequence_child".to_string(),
    };
    let output = Command::new(exe)
        .args([
            "--ignored",
            "--exact",
            &child,
            "--nocapture",
            "--test-threads=1",
        ])
        .output()
        .expect("run the child test");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    // libtest exits with 101 when its one test failed by panicking; a signal gives no code.
    assert_eq!(
        output.status.code(),
        Some(101),
        "child did not fail cleanly: {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    assert!(
        stderr.contains("zeros: shape [3, 6148914691236517206] is too large"),
        "child panicked with another message:\n{stderr}"
    );
}

#[test]
#[ignore = "run by the_reported_segfault_is_a_clean_panic in a child process"]
fn reported_sequence_child() {
    let a = Tensor::<f64>::zeros(&[3, B]);
    let b = Tensor::<f64>::zeros(&[B, 3]);
    let c = a.matmul(&b);
    println!("{:?}", c.to_vec());
    println!("{:?}", a.t().to_vec());
}
