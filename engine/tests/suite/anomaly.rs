//! Anomaly mode: the first NaN/inf is reported with the operation, the line of *this file* that
//! called it, and statistics of the inputs.

use engine::anomaly::{catch_anomaly, detect_anomaly, is_anomaly_enabled, Phase};
use engine::Tensor;

fn is_this_file(location: &std::panic::Location<'_>) -> bool {
    location.file().ends_with("anomaly.rs") && location.file().contains("tests")
}

#[test]
fn forward_log_of_zero_names_the_op_the_user_line_and_input_stats() {
    let _on = detect_anomaly(true);
    let x = Tensor::<f64>::from_vec(vec![1.0, 0.0, 2.0], &[3]);
    let mut line = 0;
    let anomaly = catch_anomaly(|| {
        line = line!() + 1;
        let _y = x.log();
    })
    .unwrap_err();
    assert_eq!(anomaly.phase, Phase::Forward);
    assert_eq!(anomaly.op, "log");
    assert!(is_this_file(anomaly.location), "{}", anomaly.location);
    assert_eq!(anomaly.location.line(), line);
    let input = &anomaly.inputs[0];
    assert_eq!((input.min, input.max, input.mean), (0.0, 2.0, 1.0));
    assert_eq!((input.nan, input.pos_inf, input.neg_inf), (0, 0, 0));
    assert_eq!(anomaly.result.neg_inf, 1);
    assert_eq!(anomaly.result.finite, 2);
    let message = anomaly.to_string();
    assert!(
        message.contains(&format!("anomaly.rs:{line}")),
        "message must name the user's line:\n{message}"
    );
}

#[test]
fn operators_report_the_line_that_wrote_them() {
    let _on = detect_anomaly(true);
    let a = Tensor::<f64>::parameter(vec![1.0, -1.0], &[2]);
    let b = Tensor::<f64>::from_vec(vec![2.0, 0.0], &[2]);
    let mut line = 0;
    let anomaly = catch_anomaly(|| {
        let c = &a * 3.0;
        line = line!() + 1;
        let _d = &c / &b;
    })
    .unwrap_err();
    assert_eq!(anomaly.op, "div");
    assert_eq!(anomaly.location.line(), line);
    assert!(is_this_file(anomaly.location));
    assert_eq!(anomaly.inputs[1].min, 0.0);
    assert_eq!(anomaly.result.neg_inf, 1);
}

#[test]
fn library_functions_report_the_callers_line() {
    // The unbiased variance of a single value is 0/0: the NaN appears inside the library's
    // var_axis, but the location must be the line here that called it.
    let _on = detect_anomaly(true);
    let x = Tensor::<f64>::parameter(vec![0.5], &[1, 1]);
    let mut line = 0;
    let anomaly = catch_anomaly(|| {
        line = line!() + 1;
        let _v = x.var_axis(1, false, true);
    })
    .unwrap_err();
    assert_eq!(anomaly.op, "div");
    assert_eq!(anomaly.location.line(), line);
    assert!(is_this_file(anomaly.location));
}

#[test]
fn backward_infinity_names_the_op_created_on_the_user_line() {
    let _on = detect_anomaly(true);
    let x = Tensor::<f64>::parameter(vec![4.0, 0.0, 1.0], &[3]);
    let mut line = 0;
    let anomaly = catch_anomaly(|| {
        line = line!() + 1;
        let y = x.sqrt(); // fine forward: [2, 0, 1]
        let l = (y * 3.0).sum();
        l.backward(); // d√x/dx = 1/(2√x) = inf at 0
    })
    .unwrap_err();
    assert_eq!(anomaly.phase, Phase::Backward);
    assert_eq!(anomaly.op, "sqrt");
    assert_eq!(anomaly.location.line(), line);
    assert!(is_this_file(anomaly.location));
    assert_eq!(anomaly.input_index, Some(0));
    assert!(!anomaly.arrived_non_finite);
    assert_eq!(anomaly.inputs[0].min, 0.0);
    assert_eq!(anomaly.result.pos_inf, 1);
    let incoming = anomaly.incoming_grad.as_ref().unwrap();
    assert_eq!((incoming.min, incoming.max), (3.0, 3.0));
    assert!(x.grad().is_none(), "nothing was accumulated");
}

#[test]
fn propagated_nan_is_not_blamed_on_the_next_op() {
    // The NaN is in the data, not produced by an operation: nothing is the origin.
    let _on = detect_anomaly(true);
    let x = Tensor::<f64>::from_vec(vec![f64::NAN, 1.0], &[2]);
    let w = Tensor::<f64>::parameter(vec![1.0, 2.0], &[2]);
    let result = catch_anomaly(|| (&w * &x).exp().sum());
    assert!(result.is_ok());
}

#[test]
fn a_hook_that_returns_nan_is_flagged_as_arriving_non_finite() {
    let _on = detect_anomaly(true);
    let x = Tensor::<f64>::parameter(vec![1.0, 2.0], &[2]);
    let h = x.exp();
    h.register_hook(|g| Some(g * f64::NAN));
    let anomaly = catch_anomaly(|| h.sum().backward()).unwrap_err();
    assert_eq!(anomaly.op, "exp");
    assert!(anomaly.arrived_non_finite);
    assert!(anomaly.to_string().contains("already non-finite"));
}

#[test]
fn off_by_default_and_the_guard_restores_the_setting() {
    assert!(!is_anomaly_enabled());
    let x = Tensor::<f64>::from_vec(vec![0.0], &[1]);
    assert_eq!(x.log().item(), f64::NEG_INFINITY);
    {
        let _on = detect_anomaly(true);
        assert!(is_anomaly_enabled());
        {
            let _off = detect_anomaly(false);
            assert_eq!(x.log().item(), f64::NEG_INFINITY);
        }
        assert!(is_anomaly_enabled());
    }
    assert!(!is_anomaly_enabled());
}

#[test]
#[should_panic(expected = "anomaly: `log` produced a non-finite value in forward")]
fn without_catch_it_stops_with_a_panic() {
    let _on = detect_anomaly(true);
    Tensor::<f32>::from_vec(vec![-1.0], &[1]).log();
}

#[test]
fn other_panics_pass_through_catch_anomaly() {
    let caught = std::panic::catch_unwind(|| {
        let _ = catch_anomaly(|| Tensor::<f64>::zeros(&[2]).reshape(&[3]));
    });
    assert!(caught.is_err());
}
