//! The public API's conventions: negative axes everywhere (one rule for every axis argument),
//! out-of-range axes named in the panic, `to_leaf` / `requires_grad`, named variance options,
//! and the tangent helpers at the crate root.

use engine::{hessian, hvp, jacobian, jacobian_reverse, jvp, jvp_graph, loss, vjp};
use engine::{Tensor, VarOptions};

fn x() -> Tensor<f64> {
    Tensor::from_vec(
        (0..24).map(|k| ((k * 7) % 11) as f64 - 5.0).collect(),
        &[2, 3, 4],
    )
}

#[test]
fn negative_axes_count_from_the_end_in_every_op() {
    let x = x();
    let same = |a: Tensor<f64>, b: Tensor<f64>| {
        assert_eq!(a.shape(), b.shape());
        assert_eq!(a.to_vec(), b.to_vec());
    };
    same(x.sum_axis(-1, false), x.sum_axis(2usize, false));
    same(x.mean_axis(-2, true), x.mean_axis(1usize, true));
    same(x.max_axis(-3, false), x.max_axis(0usize, false));
    same(x.min_axis(-1, true), x.min_axis(2usize, true));
    same(x.var_axis(-1, false, true), x.var_axis(2usize, false, true));
    assert_eq!(x.argmax_axis(-1), x.argmax_axis(2usize));
    same(x.softmax(-1), x.softmax(2usize));
    same(x.log_softmax(-2), x.log_softmax(1usize));
    same(x.transpose(-1, -3), x.transpose(2usize, 0usize));
    same(x.unsqueeze(-1), x.unsqueeze(3usize));
    same(x.unsqueeze(-4), x.unsqueeze(0usize));
    same(x.unsqueeze(1).squeeze(-3), x.clone());
    same(
        Tensor::concat(&[&x, &x], -1),
        Tensor::concat(&[&x, &x], 2usize),
    );
    same(x.narrow(-1, 1, 2), x.narrow(2usize, 1, 2));
    same(x.index_select(-2, &[2, 0]), x.index_select(1usize, &[2, 0]));
    let index = [0usize, 2, 1, 0, 1, 1, 2, 0];
    same(
        x.narrow(2, 0, 1)
            .squeeze(-1)
            .gather(-1, &index[..6], &[2, 3]),
        x.narrow(2, 0, 1)
            .squeeze(-1)
            .gather(1usize, &index[..6], &[2, 3]),
    );
    let z = Tensor::<f64>::from_vec(vec![0.5, -1.0, 2.0, 0.1, 0.3, -0.2], &[3, 2]);
    let y = Tensor::<f64>::from_vec(vec![1.0, 0.0, 0.0, 1.0, 0.0, 0.0], &[3, 2]);
    same(
        loss::softmax_cross_entropy(&z, &y, -2),
        loss::softmax_cross_entropy(&z, &y, 0usize),
    );
}

#[test]
#[should_panic(expected = "sum_axis: axis -4 out of range for shape [2, 3, 4]")]
fn an_axis_out_of_range_names_the_op_the_axis_and_the_shape() {
    x().sum_axis(-4, false);
}

#[test]
#[should_panic(expected = "concat: axis 3 out of range for shape [2, 3, 4]")]
fn concat_names_its_axis_too() {
    Tensor::concat(&[&x(), &x()], 3);
}

#[test]
fn to_leaf_copies_and_requires_grad_asks() {
    let data = x();
    assert!(!data.requires_grad());
    let leaf = data.to_leaf();
    assert!(leaf.requires_grad() && leaf.is_leaf());
    assert!(!data.requires_grad(), "to_leaf leaves the original alone");
    assert!((&leaf * 2.0).requires_grad());
}

#[test]
fn variance_options_are_named() {
    let x = x();
    let sample = x.var_axis_with(
        -1,
        VarOptions {
            unbiased: true,
            ..VarOptions::default()
        },
    );
    assert_eq!(sample.to_vec(), x.var_axis(2usize, false, true).to_vec());
    let population = x.var_axis_with(0, VarOptions::default());
    assert_eq!(
        population.to_vec(),
        x.var_axis(0usize, false, false).to_vec()
    );
}

#[test]
fn the_tangent_helpers_live_at_the_crate_root() {
    let a = Tensor::<f64>::from_vec(vec![1.0, 2.0], &[2]);
    let f = |v: &[Tensor<f64>]| (v[0].square() * 3.0).sum();
    let (_, ju) = jvp(f, std::slice::from_ref(&a), &[Tensor::ones(&[2])]);
    let (_, vj) = vjp(f, std::slice::from_ref(&a), &Tensor::scalar(1.0));
    assert_eq!(ju.item(), 18.0); // Σ 6a
    assert_eq!(vj[0].to_vec(), vec![6.0, 12.0]);
    let hv = hvp(f, std::slice::from_ref(&a), &[Tensor::ones(&[2])]);
    assert_eq!(hv[0].to_vec(), vec![6.0, 6.0]);
    let g = |x: &Tensor<f64>| x.square();
    assert_eq!(jacobian(g, &a).to_vec(), jacobian_reverse(g, &a).to_vec());
    assert_eq!(
        hessian(|x| x.square().sum(), &a).to_vec(),
        vec![2.0, 0.0, 0.0, 2.0]
    );
    let leaf = a.to_leaf();
    let out = leaf.exp();
    assert_eq!(
        jvp_graph(&out, &[(&leaf, &Tensor::ones(&[2]))]).to_vec(),
        a.exp().to_vec()
    );
}
