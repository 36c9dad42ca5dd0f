//! The `apps` binary end to end: JSON Lines output, plots, and errors on bad input.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
    // Without a test set, test_acc is null (every run's object has the same fields).
    assert!(lines[0]["test_acc"].is_null());
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
    // File names without `=` (the run keeps its name).
    for plot in [
        "reg-course-l2_0.7-keep_1-cost.svg",
        "reg-course-l2_0.7-keep_1-boundary.svg",
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

/// A scratch folder for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("apps-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The out-of-range values: each refused before any training (nothing on standard
/// output), exit status 1, one line on standard error naming the flag and the range. Negative
/// values reach that validation instead of being taken for flags.
#[test]
fn out_of_range_hyperparameters_fail_before_training_with_one_line() {
    for (args, want) in [
        (
            &["init", "--learning-rate", "nan"][..],
            "error: --learning-rate NaN: must be a finite number > 0",
        ),
        (
            &["init", "--learning-rate", "-0.01"],
            "error: --learning-rate -0.01: must be a finite number > 0",
        ),
        (
            &["optimization", "--beta1", "1"],
            "error: --beta1 1: must be in [0, 1)",
        ),
        (
            &["optimization", "--beta", "1.5"],
            "error: --beta 1.5: must be in [0, 1)",
        ),
        (
            &["optimization", "--epsilon", "0"],
            "error: --epsilon 0: must be a finite number > 0",
        ),
        (
            &["regularization", "--lambd", "-1"],
            "error: --lambd -1: must be a finite number >= 0",
        ),
    ] {
        let out = apps(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            out.stdout.is_empty(),
            "{args:?} trained: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with(want), "{args:?}: {err}");
    }
}

/// A run whose cost becomes NaN stops with an error naming the epoch and a non-zero status;
/// `--allow-nonfinite` trains on.
#[test]
fn a_diverging_run_stops_with_an_error_naming_the_epoch() {
    let args = [
        "optimization",
        "--optimizer",
        "adam",
        "--learning-rate",
        "1e300",
        "--num-epochs",
        "20",
    ];
    let out = apps(&args);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("[opt-adam] the cost became NaN at epoch 0"),
        "{err}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("train accuracy"));
    let mut more = args.to_vec();
    more.push("--allow-nonfinite");
    let out = apps(&more);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Cost after epoch 0: nan"));
}

/// A `.mat` variable: name, rows, columns, values (column-major).
type MatVar<'a> = (&'a str, usize, usize, &'a [f64]);

/// A hand-built MATLAB v5 file of `f64` matrices (128-byte header, uncompressed elements).
fn mat_file(vars: &[MatVar]) -> Vec<u8> {
    fn element(data_type: u32, data: &[u8]) -> Vec<u8> {
        let mut out = data_type.to_le_bytes().to_vec();
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(8) * 8, 0);
        out
    }
    let mut bytes = b"MATLAB 5.0 MAT-file, apps test".to_vec();
    bytes.resize(124, b' ');
    bytes.extend_from_slice(&[0x00, 0x01, b'I', b'M']);
    for &(name, rows, cols, values) in vars {
        assert_eq!(values.len(), rows * cols);
        let mut body = element(6, &[6u32.to_le_bytes(), 0u32.to_le_bytes()].concat());
        body.extend(element(
            5,
            &[(rows as u32).to_le_bytes(), (cols as u32).to_le_bytes()].concat(),
        ));
        body.extend(element(1, name.as_bytes()));
        body.extend(element(
            9,
            &values
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect::<Vec<u8>>(),
        ));
        bytes.extend(element(14, &body));
    }
    bytes
}

/// An IDX file of bytes with the given dimensions.
fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

/// A folder of the four MNIST files: `train` images of `rows × cols` and `test` 28×28 ones.
fn mnist_dir(name: &str, train: usize, rows: u32, cols: u32, test: usize) -> PathBuf {
    let dir = scratch(name);
    let px = (rows * cols) as usize;
    let write = |file: &str, bytes: Vec<u8>| std::fs::write(dir.join(file), bytes).unwrap();
    write(
        "train-images-idx3-ubyte",
        idx(&[train as u32, rows, cols], &vec![7; train * px]),
    );
    write(
        "train-labels-idx1-ubyte",
        idx(&[train as u32], &vec![3; train]),
    );
    write(
        "t10k-images-idx3-ubyte",
        idx(&[test as u32, 28, 28], &vec![7; test * 784]),
    );
    write(
        "t10k-labels-idx1-ubyte",
        idx(&[test as u32], &vec![3; test]),
    );
    dir
}

/// Empty data sets, labels other than 0/1 and images other than 28×28 are errors naming the
/// file and the field, before training (they used to panic, or to train and print
/// `accuracy nan`, or to be silently accepted).
#[test]
fn empty_or_ill_shaped_data_are_errors_naming_file_and_field() {
    let dir = scratch("bad-data");
    let good_x = [0.1, 0.2, 0.3, 0.4];
    let cases: [(&str, Vec<MatVar>, &str); 3] = [
        (
            "empty.mat",
            vec![
                ("X", 0, 2, &[]),
                ("y", 0, 1, &[]),
                ("Xval", 2, 2, &good_x),
                ("yval", 2, 1, &[0.0, 1.0]),
            ],
            "in `X`: no examples",
        ),
        (
            "label2.mat",
            vec![
                ("X", 2, 2, &good_x),
                ("y", 2, 1, &[0.0, 2.0]),
                ("Xval", 2, 2, &good_x),
                ("yval", 2, 1, &[0.0, 1.0]),
            ],
            "in `y[1]`: label 2 is not 0 or 1",
        ),
        (
            "emptyval.mat",
            vec![
                ("X", 2, 2, &good_x),
                ("y", 2, 1, &[0.0, 1.0]),
                ("Xval", 0, 2, &[]),
                ("yval", 0, 1, &[]),
            ],
            "in `Xval`: no examples",
        ),
    ];
    for (name, vars, want) in cases {
        let path = dir.join(name);
        std::fs::write(&path, mat_file(&vars)).unwrap();
        let out = apps(&[
            "regularization",
            "--data",
            path.to_str().unwrap(),
            "--num-iterations",
            "2",
        ]);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.starts_with(&format!("error: {}: {want}", path.display())),
            "{name}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }

    for (name, train, rows, cols, test, want) in [
        (
            "no-train",
            0,
            28,
            28,
            3,
            "train-images-idx3-ubyte: in `item count`: the training set has 0 images",
        ),
        (
            "no-test",
            3,
            28,
            28,
            0,
            "t10k-images-idx3-ubyte: in `item count`: the test set has 0 images",
        ),
        (
            "27x29",
            3,
            27,
            29,
            3,
            "train-images-idx3-ubyte: in `dimensions`: images are 27×29",
        ),
        (
            "14x56",
            3,
            14,
            56,
            3,
            "train-images-idx3-ubyte: in `dimensions`: images are 14×56",
        ),
    ] {
        let dir = mnist_dir(name, train, rows, cols, test);
        let out = apps(&[
            "mnist",
            "--data-dir",
            dir.to_str().unwrap(),
            "--num-epochs",
            "1",
        ]);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains(want) && err.contains(dir.to_str().unwrap()),
            "{name}: {err}"
        );
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("accuracy"),
            "{name}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--data-dir` and `--out` are checked before anything runs: nothing is printed (before,
/// `apps all` ran gradcheck, init, ... for 15 s first, and `--out` failed after training).
#[test]
fn data_dir_and_out_are_checked_before_any_work() {
    let out = apps(&["all", "--data-dir", "/nonexistent"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        stderr(&out).starts_with("error: --data-dir /nonexistent: not a folder"),
        "{}",
        stderr(&out)
    );

    // A folder missing a file names it.
    let dir = mnist_dir("missing-file", 1, 28, 28, 1);
    std::fs::remove_file(dir.join("t10k-labels-idx1-ubyte")).unwrap();
    let out = apps(&["mnist", "--data-dir", dir.to_str().unwrap()]);
    assert!(out.stdout.is_empty());
    assert!(
        stderr(&out).contains("t10k-labels-idx1-ubyte"),
        "{}",
        stderr(&out)
    );
    std::fs::remove_dir_all(&dir).unwrap();

    let out = apps(&[
        "init",
        "--init",
        "he",
        "--num-iterations",
        "2",
        "--out",
        "/proc/x/plots",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        stderr(&out).starts_with("error: --out /proc/x/plots: cannot create the folder"),
        "{}",
        stderr(&out)
    );
}

/// `apps regularization | head -1`: once the reader has gone, the run ends at its next line
/// with status 141 (128 + SIGPIPE, what a shell reports for `yes | head -1`) and no message,
/// instead of computing to the end (minutes) and exiting 0.
#[test]
fn a_closed_stdout_ends_the_run_quietly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_apps"))
        .arg("regularization")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("data: "), "{first}");
    // The reader goes away (the BufReader and the pipe were dropped above).
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("still computing 120 s after its standard output was closed");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(141));
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(err.is_empty(), "{err}");
}

/// `cargo build --release` at the root builds the apps binary: cargo's own view of the
/// workspace's default members includes the apps package.
#[test]
fn cargo_build_at_the_root_builds_the_apps_binary() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(&root)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let members: Vec<&str> = meta["workspace_default_members"]
        .as_array()
        .expect("workspace_default_members (cargo >= 1.71)")
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    let apps_id = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "apps")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(members.contains(&apps_id.as_str()), "{members:?}");
}

/// Run from a folder holding its own `data/regularization_2d.mat` (a different, 3-example
/// data set), the app still loads the bundled file, and its first line says which.
#[test]
fn bundled_data_is_found_from_the_crate_not_the_current_folder() {
    let dir = scratch("cwd-data");
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let x = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6];
    std::fs::write(
        dir.join("data/regularization_2d.mat"),
        mat_file(&[
            ("X", 3, 2, &x),
            ("y", 3, 1, &[0.0, 1.0, 0.0]),
            ("Xval", 3, 2, &x),
            ("yval", 3, 1, &[0.0, 1.0, 1.0]),
        ]),
    )
    .unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_apps"))
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap()
    };
    let out = run(&[
        "regularization",
        "--variant",
        "book",
        "--lambd",
        "0",
        "--num-iterations",
        "1",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let first = text.lines().next().unwrap();
    let bundled = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/regularization_2d.mat");
    let shown = Path::new(first.strip_prefix("data: ").expect(first));
    assert_eq!(
        shown.canonicalize().unwrap(),
        bundled.canonicalize().unwrap()
    );
    // JSON says it too, and the run trained on the bundled 211 examples: checks on all 211.
    let out = run(&[
        "regularization",
        "--variant",
        "book",
        "--lambd",
        "0",
        "--num-iterations",
        "1",
        "--json",
    ]);
    let line = &json_lines(&out.stdout)[0];
    assert_eq!(line["data"][0].as_str(), Some(shown.to_str().unwrap()));
    assert_eq!(line["checks"][0]["batch_examples"], 211);
    // `./data/...` names the current folder's file.
    let out = run(&[
        "regularization",
        "--variant",
        "book",
        "--lambd",
        "0",
        "--num-iterations",
        "1",
        "--json",
        "--data",
        "./data/regularization_2d.mat",
    ]);
    let line = &json_lines(&out.stdout)[0];
    assert_eq!(line["checks"][0]["batch_examples"], 3);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A large batch is checked on its first examples by default (the complete check of the
/// MNIST network on a batch of 100,000 took more than 5 minutes). The text form of the
/// report's note is tested in `report.rs`: this run (20 s of numerical gradients) is made once.
#[test]
fn gradient_checks_of_large_batches_are_bounded_by_default() {
    let out = apps(&[
        "mnist",
        "--mini-batch-size",
        "4000",
        "--num-epochs",
        "1",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let run = &json_lines(&out.stdout)[0];
    for c in run["checks"].as_array().unwrap() {
        assert_eq!(c["batch_examples"], 4000);
        // 1,000,000 component-examples / 24,380 components.
        assert_eq!(c["examples"], 41);
        assert!(c["vs_numerical"].as_f64().unwrap() < 1e-5, "{c}");
    }
}

/// Every training run's JSON object has the same keys, and so does every check; when the
/// gradients vanish (zero initialization) the check says its relative differences are
/// meaningless.
#[test]
fn every_run_object_has_the_same_documented_fields() {
    let keys = |v: &serde_json::Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    let zeros =
        &json_lines(&apps(&["init", "--init", "zeros", "--num-iterations", "2", "--json"]).stdout)
            [0];
    let opt = &json_lines(
        &apps(&[
            "optimization",
            "--optimizer",
            "gd",
            "--num-epochs",
            "1",
            "--json",
        ])
        .stdout,
    )[0];
    let documented = [
        "checks",
        "cost_at",
        "costs",
        "data",
        "hvp_checks",
        "plots",
        "run",
        "seconds",
        "test_acc",
        "test_acc_curve",
        "train_acc",
        "unit",
    ];
    assert_eq!(keys(zeros), documented);
    assert_eq!(keys(opt), documented);
    assert!(opt["test_acc"].is_null());
    let check_keys = keys(&zeros["checks"][0]);
    assert_eq!(check_keys, keys(&opt["checks"][0]));
    for k in [
        "relative_meaningful",
        "examples",
        "batch_examples",
        "vs_hand",
        "max_abs_vs_hand",
    ] {
        assert!(check_keys.contains(&k.to_string()), "{k}");
    }
    // Zero initialization: vs_hand is 1.0 (noise over noise) and flagged as meaningless.
    assert_eq!(zeros["checks"][0]["relative_meaningful"], false);
    assert_eq!(opt["checks"][0]["relative_meaningful"], true);
}
