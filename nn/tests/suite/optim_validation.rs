//! Hyperparameters out of range are programmer errors: the optimizers' constructors and
//! builders panic naming the value instead of training into NaN (issue 13, section 2).

use nn::optim::{Adam, Gd, Momentum, Optimizer, RmsProp};

/// The panic message of `f`, which must panic.
fn panic_message(f: impl FnOnce() + std::panic::UnwindSafe) -> String {
    let err = std::panic::catch_unwind(f).expect_err("must panic");
    err.downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[test]
fn adam_with_beta1_one_panics_naming_the_value() {
    let msg = panic_message(|| {
        let _ = Adam::<f64>::new(0.01).with_betas(1.0, 0.999);
    });
    assert!(msg.contains("beta1 must be in [0, 1), got 1"), "{msg}");
    let msg = panic_message(|| {
        let _ = Adam::<f64>::new(0.01).with_betas(0.9, f64::NAN);
    });
    assert!(msg.contains("beta2") && msg.contains("NaN"), "{msg}");
}

#[test]
fn learning_rates_must_be_finite_and_non_negative() {
    for lr in [f64::NAN, f64::INFINITY, -0.01] {
        for (name, msg) in [
            (
                "Gd::new",
                panic_message(move || {
                    let _ = Gd::new(lr);
                }),
            ),
            (
                "Momentum::new",
                panic_message(move || drop(Momentum::<f64>::new(lr, 0.9))),
            ),
            (
                "RmsProp::new",
                panic_message(move || drop(RmsProp::<f64>::new(lr, 0.9))),
            ),
            (
                "Adam::new",
                panic_message(move || drop(Adam::<f64>::new(lr))),
            ),
        ] {
            assert!(
                msg.contains(name) && msg.contains(&format!("got {lr}")),
                "{lr}: {msg}"
            );
        }
    }
    let msg = panic_message(|| Optimizer::<f64>::set_learning_rate(&mut Gd::new(0.1), -1.0));
    assert!(msg.contains("got -1"), "{msg}");
    // Zero is a valid (if useless) learning rate.
    let _ = Gd::new(0.0);
}

#[test]
fn betas_epsilon_and_weight_decay_are_checked() {
    let msg = panic_message(|| drop(Momentum::<f64>::new(0.1, 1.5)));
    assert!(msg.contains("beta must be in [0, 1), got 1.5"), "{msg}");
    let msg = panic_message(|| drop(RmsProp::<f64>::new(0.1, -0.1)));
    assert!(msg.contains("got -0.1"), "{msg}");
    let msg = panic_message(|| drop(Adam::<f64>::new(0.1).with_epsilon(0.0)));
    assert!(
        msg.contains("epsilon must be finite and > 0, got 0"),
        "{msg}"
    );
    let msg = panic_message(|| drop(RmsProp::<f64>::new(0.1, 0.9).with_epsilon(-1e-8)));
    assert!(msg.contains("got -0.00000001"), "{msg}");
    let msg = panic_message(|| {
        let _ = Gd::new(0.1).with_weight_decay(-0.7);
    });
    assert!(
        msg.contains("decay must be finite and >= 0, got -0.7"),
        "{msg}"
    );
    // The boundaries that are valid.
    let _ = Momentum::<f64>::new(0.1, 0.0);
    let _ = Adam::<f64>::new(0.1)
        .with_betas(0.0, 0.0)
        .with_epsilon(1e-300);
}

#[test]
fn dropout_keep_prob_outside_zero_one_panics() {
    use rand::SeedableRng;
    use std::sync::{Arc, Mutex};
    for keep in [0.0, 1.5, f64::NAN] {
        let msg = panic_message(move || {
            let rng = Arc::new(Mutex::new(rand::rngs::StdRng::seed_from_u64(0)));
            drop(nn::Dropout::<f64>::new(keep, rng as nn::SharedSampler));
        });
        assert!(msg.contains("keep_prob must be in (0, 1]"), "{keep}: {msg}");
    }
}
