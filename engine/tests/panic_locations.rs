//! A shape or argument error is the caller's bug, so its panic must point at the caller's line:
//! every public operation is `#[track_caller]` all the way down to the check, and no check
//! panics from inside a closure (which would report the closure's line in the engine). One test
//! per family of operations; each asserts that the panic's reported location is this file, on
//! the line of the call, and that the message names the operation.

use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

use engine::loss::{
    binary_cross_entropy, binary_cross_entropy_with_logits, mse, softmax_cross_entropy,
    softmax_cross_entropy_indices,
};
use engine::Tensor;

/// Where and with what message the last panic on this thread was raised.
struct Caught {
    file: String,
    line: u32,
    message: String,
}

thread_local! {
    static CAUGHT: RefCell<Option<Caught>> = const { RefCell::new(None) };
    /// Whether this thread is inside [`check`]; other panics (failed assertions) are reported
    /// by the default hook as usual.
    static EXPECTING: Cell<bool> = const { Cell::new(false) };
}

/// Replaces the panic hook (for this test binary only) by one that records the location and
/// message of each panic on the panicking thread, so tests running in parallel do not mix.
fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !EXPECTING.with(Cell::get) {
                return default(info);
            }
            let payload = info.payload();
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            let (file, line) = info
                .location()
                .map_or((String::new(), 0), |l| (l.file().to_string(), l.line()));
            CAUGHT.with(|c| {
                *c.borrow_mut() = Some(Caught {
                    file,
                    line,
                    message,
                })
            });
        }));
    });
}

/// Runs `f`, which must panic; asserts the panic was reported in this file within a couple of
/// lines after `line` (a call rustfmt wrapped may start a line later) and names `op`.
fn check(op: &str, line: u32, f: impl FnOnce()) {
    install_hook();
    CAUGHT.with(|c| c.borrow_mut().take());
    EXPECTING.with(|e| e.set(true));
    let result = catch_unwind(AssertUnwindSafe(f));
    EXPECTING.with(|e| e.set(false));
    assert!(result.is_err(), "{op}: expected a panic");
    let caught = CAUGHT
        .with(|c| c.borrow_mut().take())
        .expect("the hook saw the panic");
    assert!(
        caught.file.ends_with("panic_locations.rs") && (line..=line + 2).contains(&caught.line),
        "{op}: the panic points at {}:{}, not at this file's line {line} (message: {})",
        caught.file,
        caught.line,
        caught.message
    );
    assert!(
        caught.message.contains(op),
        "the panic at line {line} does not name `{op}`: {}",
        caught.message
    );
}

/// `here!("op", expression)`: `expression` must panic at this line with a message naming `op`.
macro_rules! here {
    ($op:expr, $e:expr) => {
        check($op, line!(), || {
            let _ = $e;
        })
    };
}

fn m23() -> Tensor<f64> {
    Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3])
}

fn m32() -> Tensor<f64> {
    Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2])
}

#[test]
fn elementwise_binary_ops_point_at_the_caller() {
    let (a, b) = (m23(), m32());
    here!("add", &a + &b);
    here!("add", a.clone() + b.clone());
    here!("sub", &a - &b);
    here!("mul", &a * &b);
    here!("div", a.div(&b));
    here!("pow", a.pow(&b));
    here!("maximum", a.maximum(&b));
    here!("minimum", a.minimum(&b));
    here!("gt", a.gt(&b));
    here!("le", a.le(&b));
    here!("eq", a.eq_mask(&b));
    here!("where", Tensor::where_mask(&a, &a, &b));
    // Through a leaf that requires gradients (the recorded path).
    let p = a.to_leaf();
    here!("add", &p + &b);
}

#[test]
fn unary_and_scalar_ops_point_at_the_caller() {
    let a = m23();
    here!("clamp", a.clamp(1.0, 0.0));
    here!("clamp", a.clamp(f64::NAN, 1.0));
}

#[test]
fn matmul_points_at_the_caller() {
    let (a, b) = (m23(), m32());
    here!("matmul", a.matmul(&a));
    here!("matmul", a.dot(&a));
    here!("matmul", a.flatten().matmul(&b));
    let batched = Tensor::<f64>::zeros(&[2, 3, 2]);
    let other = Tensor::<f64>::zeros(&[3, 2, 3]);
    here!("matmul", batched.matmul(&other));
}

#[test]
fn reductions_point_at_the_caller() {
    let a = m23();
    let empty = Tensor::<f64>::zeros(&[0]);
    here!("sum_axis", a.sum_axis(5, false));
    here!("mean_axis", a.mean_axis(5, true));
    here!("max_axis", a.max_axis(5, false));
    here!("min_axis", a.min_axis(5, false));
    here!("var_axis", a.var_axis(5, false, true));
    here!("max", empty.max());
    here!("min", empty.min());
    here!("argmax", empty.argmax());
    here!("argmax_axis", a.argmax_axis(5));
}

#[test]
fn shape_ops_point_at_the_caller() {
    let a = m23();
    here!("reshape", a.reshape(&[4, 2]));
    here!("permute", a.permute(&[0, 0]));
    here!("transpose", a.transpose(0, 5));
    here!("t", a.flatten().t());
    here!("broadcast_to", a.broadcast_to(&[3, 3]));
    here!("sum_to", a.sum_to(&[2]));
    here!("squeeze", a.squeeze(0));
    here!("unsqueeze", a.unsqueeze(5));
    here!("concat", Tensor::concat(&[&a, &m32()], 0));
    here!("concat", Tensor::<f64>::concat(&[], 0));
    here!("narrow", a.narrow(1, 2, 2));
    here!("narrow", a.narrow(1, usize::MAX, 2));
}

#[test]
fn indexing_points_at_the_caller() {
    let a = m23();
    here!("index_select", a.index_select(1, &[0, 3]));
    here!("index_add", a.index_add(1, &[0, 1, 9], 4));
    here!("gather", a.gather(1, &[0, 5], &[2, 1]));
    here!("scatter_add", a.scatter_add(0, &[0; 6], &[4, 4]));
    here!("at", a.at(&[2, 0]));
    here!("dim", a.dim(2));
    here!("item", a.item());
    here!("to_vec2", a.flatten().to_vec2());
    here!("to_vec3", a.to_vec3());
    let non_leaf = a.to_leaf() * 2.0;
    here!("update_data", non_leaf.update_data(|_| ()));
    here!("set_data", a.set_data(&m32()));
}

#[test]
fn softmax_points_at_the_caller() {
    let a = m23();
    here!("softmax", a.softmax(5));
    here!("log_softmax", a.log_softmax(-3));
}

#[test]
fn losses_point_at_the_caller() {
    let (a, b) = (m23(), m32());
    here!("bce_with_logits", a.bce_with_logits(&b));
    here!("bce_with_logits", binary_cross_entropy_with_logits(&a, &b));
    here!("binary_cross_entropy", binary_cross_entropy(&a, &b));
    here!("softmax_cross_entropy", softmax_cross_entropy(&a, &b, 0));
    let classes = [0, 1];
    here!(
        "softmax_cross_entropy_indices",
        softmax_cross_entropy_indices(&a, &classes)
    );
    here!("gather", softmax_cross_entropy_indices(&a, &[0, 1, 7]));
    here!("mse", mse(&a, &b));
}

#[test]
fn constructors_point_at_the_caller() {
    here!("from_vec", Tensor::<f64>::from_vec(vec![1.0; 5], &[2, 3]));
    here!(
        "from_vec",
        Tensor::<f64>::from_vec(vec![1.0; 2], &[3, usize::MAX / 3 + 1])
    );
    here!(
        "from_vec",
        Tensor::<f32>::from_f64_slice(&[1.0; 5], &[2, 3])
    );
    here!("from_vec", Tensor::<f64>::parameter(vec![1.0; 5], &[2, 3]));
    here!("zeros", Tensor::<f64>::zeros(&[1 << 32, 1 << 32]));
    here!("ones", Tensor::<f32>::ones(&[1 << 32, 1 << 32]));
    here!("full", Tensor::<f64>::full(&[1 << 32, 1 << 32], 2.0));
    here!(
        "zeros",
        Tensor::zeros_like(&Tensor::<f64>::scalar(0.0).broadcast_to(&[1 << 62]))
    );
    here!("eye", Tensor::<f64>::eye(1 << 32));
    here!("arange", Tensor::<f64>::arange(0.0, 1.0, 0.0));
    here!("linspace", Tensor::<f64>::linspace(0.0, 1.0, usize::MAX));
    here!(
        "from_vec2",
        Tensor::<f64>::from_vec2(vec![vec![1.0], vec![]])
    );
    here!(
        "from_vec3",
        Tensor::<f64>::from_vec3(vec![vec![vec![1.0]], vec![]])
    );
}
