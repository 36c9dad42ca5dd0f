use apps::reference::Reference;
use apps::report::Reporter;
use apps::train::*;
use apps::net::Mlp;
use engine::Tensor;
fn main() {
    let r = Reference::load_bundled().unwrap();
    let t = |p: &str| { let (d, s) = r.matrix(p); Tensor::from_vec(d, &s) };
    let (x, y) = (t("init/dataset/train_X"), t("init/dataset/train_Y"));
    for (name, init) in [("zeros", CourseInit::Zeros), ("random", CourseInit::Times(10.0)), ("he", CourseInit::He)] {
        let p = course_init(&[2, 10, 5, 1], init, 3);
        let mut net = Mlp::from_params(&p, output_for(&y));
        let cfg = FullBatch { name: name.into(), learning_rate: 0.01, iterations: 15000, print_every: 1000, lambd: 0.0, dropout: None, check_limit: 1000 };
        let t0 = std::time::Instant::now();
        let out = full_batch(&mut net, &x, &y, &cfg, &Reporter::silent());
        let want = r.numbers(&format!("init/{name}/costs_every_1000"));
        let worst = out.costs.iter().zip(&want).map(|(a, b)| ((a - b) / b).abs()).fold(0.0, f64::max);
        println!("{name}: {:?}s worst rel {worst:e}; checks {:?}", t0.elapsed(), out.checks.iter().map(|c| (c.vs_hand, c.vs_numerical)).collect::<Vec<_>>());
        for (a, b) in out.costs.iter().zip(&want) { print!("{:.1e} ", ((a - b) / b).abs()); }
        println!();
    }
}
#[allow(dead_code)]
fn zeros_detail() {}
