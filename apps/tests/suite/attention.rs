//! `apps attention` end to end on a short configuration: it learns, its tiny-configuration
//! checks (every gradient component against central differences, a Hessian-vector product
//! against differences of gradients) pass and are reported, its plots are written, the same
//! seed gives the same run, and bad settings fail before any work.

use std::path::PathBuf;
use std::process::Command;

fn apps(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_apps"))
        .args(args)
        .output()
        .expect("the apps binary runs")
}

fn json(out: &std::process::Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "one run, one line: {text}");
    serde_json::from_str(lines[0]).unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("apps-attn-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Sorting 5 digits with 2 blocks of width 32: 300 steps of 32 sequences, a few seconds.
const SHORT: [&str; 17] = [
    "attention",
    "--seq-len",
    "5",
    "--d-model",
    "32",
    "--heads",
    "2",
    "--num-steps",
    "300",
    "--mini-batch-size",
    "32",
    "--n-test",
    "500",
    "--eval-every",
    "100",
    "--learning-rate",
    "0.003",
];

#[test]
fn a_short_run_learns_to_sort_and_its_checks_pass() {
    let dir = scratch("short");
    let mut args = SHORT.to_vec();
    let out_dir = dir.display().to_string();
    args.extend(["--json", "--out", &out_dir]);
    let run = json(&apps(&args));
    assert_eq!(run["run"], "attention-sort");
    assert_eq!(run["unit"], "step");
    assert_eq!(run["cost_at"], serde_json::json!([100, 200, 300]));
    let costs: Vec<f64> = run["costs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_f64().unwrap())
        .collect();
    // Chance is ln 10 = 2.3 per position; a broken gradient stays there.
    assert!(costs[2] < 0.5 * costs[0] && costs[2] < 0.3, "{costs:?}");
    // Exact-sequence accuracy by chance is about (1/10)^5 on held-out sequences.
    let test_acc = run["test_acc"].as_f64().unwrap();
    // Measured: 0.968 to 0.998 over four seeds.
    assert!(test_acc > 0.9, "{test_acc}");
    let curve = run["test_acc_curve"].as_array().unwrap();
    assert_eq!(curve.len(), 3);
    assert_eq!(curve[2][1].as_f64().unwrap(), test_acc);

    // The tiny configuration's checks, at its initialization and after 30 Adam steps.
    let checks = run["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 2);
    assert_eq!(checks[1]["update"], 30);
    for c in checks {
        // Every component of the smooth network (no ReLU kinks), ε = 1e-7 in f64: the
        // engine's default tolerance (relative 1e-7, or absolute 1e-8) is what passed.
        let ok = c["vs_numerical"].as_f64().unwrap() < 1e-7
            || c["max_abs_vs_numerical"].as_f64().unwrap() <= 1e-8;
        assert!(ok, "{c}");
        assert!(c["vs_hand"].is_null());
        assert!(c["relative_meaningful"].as_bool().unwrap());
        let params = c["per_param_vs_numerical"].as_array().unwrap();
        // tok, pos, 2 blocks of 16 tensors, ln_f (2), head (2).
        assert_eq!(params.len(), 38, "{c}");
    }
    let hvps = run["hvp_checks"].as_array().unwrap();
    assert_eq!(hvps.len(), 2);
    for h in hvps {
        assert_eq!(h["passed"], true, "{h}");
        assert!(h["relative_difference"].as_f64().unwrap() < 1e-6, "{h}");
        assert!(h["hv_norm"].as_f64().unwrap() > 0.1, "{h}");
    }

    let plots: Vec<&str> = run["plots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(plots.len(), 3);
    for p in &plots[..2] {
        assert!(
            std::fs::read_to_string(p).unwrap().starts_with("<svg"),
            "{p}"
        );
    }
    assert!(plots[2].ends_with("attention-sort-attention.png"));
    let png = std::fs::read(plots[2]).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_same_seeds_give_the_same_run_and_text_output_reports_the_checks() {
    let mut args = SHORT.to_vec();
    args[8] = "20"; // --num-steps
    args[14] = "10"; // --eval-every
    args.extend(["--no-check", "--json"]);
    let a = json(&apps(&args));
    let b = json(&apps(&args));
    assert_eq!(a["costs"], b["costs"]);
    assert_eq!(a["test_acc_curve"], b["test_acc_curve"]);
    assert_eq!(a["checks"], serde_json::json!([]));
    args.extend(["--init-seed", "4"]);
    let c = json(&apps(&args));
    assert_ne!(a["costs"], c["costs"]);

    let mut text = SHORT.to_vec();
    text[8] = "10";
    text.push("--quiet");
    let out = apps(&text);
    assert!(out.status.success());
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(s.contains("held-out exact-sequence accuracy"), "{s}");
    assert!(
        s.contains("autodiff at update 30: relative difference vs numerical"),
        "{s}"
    );
    assert!(
        s.contains("Hessian-vector product at update 30: relative difference"),
        "{s}"
    );
    assert!(!s.contains("FAILED"), "{s}");
}

/// The Hessian-vector check can fail: with a step of 0.5 the differences of gradients are off
/// by the `ε²` term. The run prints its report (the failing check marked) and ends with status
/// 1 and an error naming the check.
#[test]
fn a_failing_check_fails_the_run() {
    let mut args = SHORT.to_vec();
    args[8] = "5"; // --num-steps
    args.extend(["--hvp-epsilon", "0.5", "--json"]);
    let out = apps(&args);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Hessian-vector check at update 0 failed"),
        "{err}"
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let run: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let h = &run["hvp_checks"][0];
    assert_eq!(h["passed"], false, "{h}");
    assert!(h["relative_difference"].as_f64().unwrap() >= 1e-6, "{h}");
}

#[test]
fn bad_settings_fail_before_any_work_with_one_line() {
    for (args, want) in [
        (
            &["attention", "--heads", "3"][..],
            "error: --heads 3: must divide --d-model 64",
        ),
        (
            &["attention", "--learning-rate", "nan"],
            "error: --learning-rate NaN: must be a finite number > 0",
        ),
        (
            &["attention", "--seq-len", "3", "--n-test", "600"],
            "error: --n-test 600: at most half of the 1000 distinct sequences of length 3",
        ),
        (
            &["attention", "--hvp-epsilon", "-1e-5"],
            "error: --hvp-epsilon -0.00001: must be a finite number > 0",
        ),
        (
            &["attention", "--eval-every", "0"],
            "error: --eval-every 0: must be at least 1",
        ),
    ] {
        let out = apps(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with(want), "{args:?}: {err}");
    }
    let out = apps(&["attention", "--task", "shuffle"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("sort"));
}
