//! The `apps` binary end to end: JSON Lines output, plots, and errors on bad input.

use std::process::Command;

fn apps(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_apps"))
        .args(args)
        .output()
        .expect("the apps binary runs")
}

fn json_lines(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8(stdout.to_vec())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect()
}

#[test]
fn json_output_is_one_object_per_run_with_the_documented_fields() {
    let out = apps(&["init", "--init", "he", "--num-iterations", "2001", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out.stdout);
    assert_eq!(lines.len(), 1, "one run, one line");
    let run = &lines[0];
    assert_eq!(run["run"], "init-he");
    assert_eq!(run["costs"].as_array().unwrap().len(), 3);
    // NumPy's first cost, within the reproduction tolerance (1e-9 relative; see reproduction.rs).
    let first = run["costs"][0].as_f64().unwrap();
    assert!(
        (first - 0.8830537463419761).abs() < 1e-9 * 0.8830537463419761,
        "{first}"
    );
    assert!(run["train_acc"].as_f64().unwrap() > 0.5);
    assert!(run["test_acc"].is_number());
    let checks = run["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 2);
    assert_eq!(checks[1]["update"], 2000);
    assert!(checks[0]["vs_hand"].as_f64().unwrap() < 1e-12);
    assert!(checks[0]["vs_numerical"].as_f64().unwrap() < 1e-7);

    // Without a test set there is no test_acc.
    let out = apps(&[
        "optimization",
        "--optimizer",
        "gd",
        "--num-epochs",
        "3",
        "--json",
    ]);
    let lines = json_lines(&out.stdout);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["run"], "opt-gd");
    assert!(lines[0].get("test_acc").is_none());
}

#[test]
fn gradcheck_prints_its_differences_as_json() {
    let out = apps(&["gradcheck", "--json"]);
    assert!(out.status.success());
    let lines = json_lines(&out.stdout);
    assert_eq!(lines.len(), 1);
    let g = &lines[0];
    assert_eq!(g["run"], "gradcheck");
    assert_eq!(g["one_d_difference"], 2.919335883291695e-10);
    assert_eq!(g["buggy"]["wrong"], serde_json::json!(["db1", "dW2"]));
    assert!(g["buggy"]["worst"].as_array().unwrap().len() >= 2);
}

/// Differences print as the course's Python prints them (`repr`), e.g. the seed's
/// `2.919335883291695e-10`, not Rust's positional `0.0000000002919335883291695`.
#[test]
fn gradcheck_text_prints_numbers_as_python_does() {
    let out = apps(&["gradcheck"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("difference = 2.919335883291695e-10 -> The gradient is correct!"),
        "{text}"
    );
    assert!(
        text.contains("(bugs fixed) vs numerical: difference = 1.1890913024229996e-07"),
        "{text}"
    );
    assert!(text.contains("wrong gradients: db1, dW2"), "{text}");
    // The engine's report table follows, naming the failing gradients.
    assert!(text.contains("hand-written vs numerical"), "{text}");
}

#[test]
fn text_output_prints_costs_in_the_seeds_words_and_plots_go_to_out() {
    let dir = std::env::temp_dir().join(format!("apps-cli-test-{}", std::process::id()));
    let out = apps(&[
        "regularization",
        "--variant",
        "course",
        "--lambd",
        "0.7",
        "--num-iterations",
        "1001",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Cost after iteration 1000: "), "{text}");
    assert!(
        text.contains("reg-course-l2=0.7-keep=1: train accuracy"),
        "{text}"
    );
    for plot in [
        "reg-course-l2=0.7-keep=1-cost.svg",
        "reg-course-l2=0.7-keep=1-boundary.svg",
    ] {
        let svg = std::fs::read_to_string(dir.join(plot)).unwrap();
        assert!(svg.starts_with("<svg"), "{plot}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_input_fails_with_a_message() {
    let out = apps(&["init", "--init", "xavier"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("xavier"));
    let out = apps(&["regularization", "--data", "/no/such/file.mat"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: ") && err.contains("/no/such/file.mat"),
        "{err}"
    );
    let out = apps(&["regularization", "--keep-prob", "1.5"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--keep-prob"));
}
