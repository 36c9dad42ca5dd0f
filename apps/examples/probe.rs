use apps::assignments::{optimization, Context, Data};
use apps::cli::*;
use apps::net;
use apps::reference::Reference;
use clap::Parser;
use engine::Tensor;
fn main() {
    let r = Reference::load_bundled().unwrap();
    let t = |p: &str| {
        let (d, s) = r.matrix(p);
        Tensor::from_vec(d, &s)
    };
    let (x, y) = (t("opt/dataset/X"), t("opt/dataset/Y"));
    let data = Data {
        x,
        y: net::one_hot(&net::labels_of(&y), 2),
        test: None,
    };
    let Command::Optimization(a) = Cli::parse_from(["apps", "optimization"]).command else {
        panic!()
    };
    for k in [
        OptimizerKind::Momentum,
        OptimizerKind::Gd,
        OptimizerKind::Adam,
    ] {
        let rep = optimization::train_run(&Context::silent(), &data, k, &a).unwrap();
        let want = r.numbers(&format!("opt/{}/costs_every_100_epochs", k.name()));
        print!(
            "{} {:.2}s acc {} vs {}: ",
            k.name(),
            rep.seconds,
            rep.train_acc,
            r.number(&format!("opt/{}/train_acc", k.name()))
        );
        for (a, b) in rep.costs.iter().zip(&want) {
            print!("{:.1e} ", ((a - b) / b).abs());
        }
        println!(" checks {:?}", rep.checks[0]);
    }
}
