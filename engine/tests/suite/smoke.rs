use engine::gradcheck::{gradcheck, gradgradcheck, GradcheckConfig};
use engine::{loss, Tensor};

#[test]
fn smoke_mlp_gradcheck() {
    let w = Tensor::<f64>::from_vec((0..6).map(|i| (i as f64 * 0.37).sin()).collect(), &[3, 2])
        .named("W");
    let b = Tensor::<f64>::from_vec(vec![0.1, -0.2, 0.3], &[3, 1]).named("b");
    let x = Tensor::<f64>::from_vec((0..8).map(|i| (i as f64 * 0.91).cos()).collect(), &[2, 4])
        .named("X");
    let y = Tensor::<f64>::from_vec(
        vec![1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
        &[3, 4],
    );
    let f = move |v: &[Tensor<f64>]| {
        let z = v[0].matmul(&v[2]) + &v[1];
        let a = z.tanh().relu() + z.sigmoid() * z.exp().log();
        loss::softmax_cross_entropy(&a, &y, 0) + (v[0].square().sum() * 0.1)
    };
    let r = gradcheck(
        &f,
        &[w.clone(), b.clone(), x.clone()],
        GradcheckConfig {
            epsilon: 1e-6,
            worst: 5,
            ..GradcheckConfig::default()
        },
    );
    println!("{r}");
    assert!(r.passed(), "{r}");
    let r2 = gradgradcheck(
        &|v: &[Tensor<f64>]| (v[0].sin() * v[0].powf(3.0)).sum(),
        &[w],
        GradcheckConfig {
            epsilon: 1e-6,
            worst: 3,
            ..GradcheckConfig::default()
        },
    );
    println!("{r2}");
    assert!(r2.passed(), "{r2}");
}

#[test]
fn smoke_matmul_transposed_view() {
    let a = Tensor::<f32>::from_vec2(vec![vec![1.0, 2.0], vec![3.0, 4.0], vec![5.0, 6.0]]);
    let c = a.t().matmul(&a);
    assert_eq!(c.to_vec2(), vec![vec![35.0, 44.0], vec![44.0, 56.0]]);
    println!("{c}");
}
