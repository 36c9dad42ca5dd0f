//! Constructors, nested-vector conversions, and printing.
//!
//! The expected strings in the printing tests were produced by NumPy 2.4 (`str(array)` with
//! default print options) or copied from the course notebook (seed 000), not from this code.

use ferrograd::engine::Tensor;
use rand::rngs::StdRng;
use rand::SeedableRng;

#[test]
fn constructors() {
    assert_eq!(Tensor::<f64>::zeros(&[2, 3]).to_vec(), vec![0.0; 6]);
    assert_eq!(Tensor::<f32>::ones(&[4]).to_vec(), vec![1.0; 4]);
    assert_eq!(Tensor::<f64>::full(&[2], 7.5).to_vec(), vec![7.5, 7.5]);
    assert_eq!(Tensor::<f64>::scalar(2.0).shape(), &[] as &[usize]);
    assert_eq!(Tensor::<f64>::scalar(2.0).item(), 2.0);
    assert_eq!(
        Tensor::<f64>::eye(3).to_vec2(),
        vec![
            vec![1.0, 0.0, 0.0],
            vec![0.0, 1.0, 0.0],
            vec![0.0, 0.0, 1.0]
        ]
    );
    // As NumPy: arange excludes the end, linspace includes it.
    assert_eq!(
        Tensor::<f64>::arange(0.0, 1.0, 0.25).to_vec(),
        vec![0.0, 0.25, 0.5, 0.75]
    );
    assert_eq!(
        Tensor::<f64>::arange(5.0, 0.0, -2.0).to_vec(),
        vec![5.0, 3.0, 1.0]
    );
    assert_eq!(Tensor::<f64>::arange(0.0, 0.0, 1.0).numel(), 0);
    assert_eq!(
        Tensor::<f64>::linspace(-1.0, 1.0, 5).to_vec(),
        vec![-1.0, -0.5, 0.0, 0.5, 1.0]
    );
    assert_eq!(Tensor::<f64>::linspace(2.0, 3.0, 1).to_vec(), vec![2.0]);
    let t = Tensor::<f64>::from_vec((0..6).map(f64::from).collect(), &[2, 3]);
    assert_eq!(t.at(&[1, 2]), 5.0);
    assert_eq!(t.t().at(&[2, 1]), 5.0);
    assert_eq!(t.t().to_vec(), vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
}

#[test]
fn random_constructors_follow_the_callers_generator() {
    let a = Tensor::<f64>::randn(&[3, 4], &mut StdRng::seed_from_u64(5));
    let b = Tensor::<f64>::randn(&[3, 4], &mut StdRng::seed_from_u64(5));
    let c = Tensor::<f64>::randn(&[3, 4], &mut StdRng::seed_from_u64(6));
    assert_eq!(a.to_vec(), b.to_vec());
    assert_ne!(a.to_vec(), c.to_vec());
    let u = Tensor::<f32>::rand(&[1000], &mut StdRng::seed_from_u64(1)).to_vec();
    assert!(u.iter().all(|x| (0.0..1.0).contains(x)));
    let mean = u.iter().sum::<f32>() / 1000.0;
    assert!((mean - 0.5).abs() < 0.05, "mean of 1000 uniforms: {mean}");
}

#[test]
fn nested_vectors_round_trip() {
    let m = vec![vec![1.0, 2.0, 3.0], vec![4.0, 5.0, 6.0]];
    assert_eq!(Tensor::<f64>::from_vec2(m.clone()).to_vec2(), m);
    let b = vec![vec![vec![1.0f32, 2.0]], vec![vec![3.0, 4.0]]];
    let t = Tensor::from_vec3(b.clone());
    assert_eq!(t.shape(), &[2, 1, 2]);
    assert_eq!(t.to_vec3(), b);
}

#[test]
fn parameters_and_constants() {
    let c = Tensor::<f64>::from_vec(vec![1.0, 2.0], &[2]);
    let p = c.to_leaf();
    assert!(!c.requires_grad() && p.requires_grad());
    assert!(p.is_leaf());
    let y = &p * &c;
    assert!(y.requires_grad() && !y.is_leaf());
    assert!(!(&c * &c).requires_grad());
}

#[test]
fn prints_like_numpy() {
    let arange = Tensor::<f64>::arange(0.0, 2000.0, 1.0);
    assert_eq!(
        arange.to_string(),
        "[0.000e+00 1.000e+00 2.000e+00 ... 1.997e+03 1.998e+03 1.999e+03]"
    );
    let blocks = Tensor::<f64>::arange(0.0, 24.0, 1.0).reshape(&[2, 3, 4]) / 7.0;
    assert_eq!(
        blocks.to_string(),
        "[[[0.         0.14285714 0.28571429 0.42857143]\n  [0.57142857 0.71428571 0.85714286 1.        ]\n  [1.14285714 1.28571429 1.42857143 1.57142857]]\n\n [[1.71428571 1.85714286 2.         2.14285714]\n  [2.28571429 2.42857143 2.57142857 2.71428571]\n  [2.85714286 3.         3.14285714 3.28571429]]]"
    );
    let mixed = Tensor::<f64>::from_vec(vec![1e-5, -2.0, 3.5, f64::NAN], &[2, 2]);
    assert_eq!(
        mixed.to_string(),
        "[[ 1.0e-05 -2.0e+00]\n [ 3.5e+00      nan]]"
    );
    assert_eq!(
        Tensor::<f32>::linspace(0.0, 1.0, 5).to_string(),
        "[0.   0.25 0.5  0.75 1.  ]"
    );
    assert_eq!(
        Tensor::<f64>::from_vec(vec![f64::INFINITY, -1.5], &[2]).to_string(),
        "[ inf -1.5]"
    );
    // Long rows wrap at 75 characters.
    assert_eq!(
        (Tensor::<f64>::arange(0.0, 30.0, 1.0) / 3.0).to_string(),
        "[0.         0.33333333 0.66666667 1.         1.33333333 1.66666667\n 2.         2.33333333 2.66666667 3.         3.33333333 3.66666667\n 4.         4.33333333 4.66666667 5.         5.33333333 5.66666667\n 6.         6.33333333 6.66666667 7.         7.33333333 7.66666667\n 8.         8.33333333 8.66666667 9.         9.33333333 9.66666667]"
    );
    assert_eq!(Tensor::<f64>::scalar(-0.25).to_string(), "-0.25");
}

#[test]
fn prints_the_course_parameters_as_the_notebook_does() {
    // Seed 000 ("Initialization"), `initialize_parameters_random` with np.random.seed(3):
    // W1 = np.random.randn(2, 3) * 10. The draws are NumPy's, copied from
    // data/reference/numpy_random_vectors.json (seed 3, randn7). The notebook export collapsed
    // runs of spaces, so whitespace is compared collapsed.
    let draws = [
        1.7886284734303186,
        0.43650985051198943,
        0.09649746807200862,
        -1.8634927033644908,
        -0.27738820251439905,
        -0.35475897926898675,
    ];
    let w1 = Tensor::<f64>::from_vec(draws.to_vec(), &[2, 3]) * 10.0;
    let printed = w1.to_string();
    let collapsed = printed.split_whitespace().collect::<Vec<_>>().join(" ");
    assert_eq!(
        collapsed,
        "[[ 17.88628473 4.36509851 0.96497468] [-18.63492703 -2.77388203 -3.54758979]]"
    );
}

#[test]
fn debug_shows_shape_type_and_gradient_tracking() {
    let p = Tensor::<f32>::parameter(vec![0.5, 1.0], &[1, 2]);
    assert_eq!(
        format!("{p:?}"),
        "tensor([[0.5, 1. ]], shape=[1, 2], f32, requires_grad)"
    );
    assert_eq!(
        format!("{:.2}", Tensor::<f64>::scalar(1.0 / 3.0)),
        "0.3333333333333333"
    );
    assert_eq!(
        format!("{:.2}", Tensor::<f64>::from_vec(vec![1.0 / 3.0, 2.0], &[2])),
        "[0.33 2.  ]"
    );
}
