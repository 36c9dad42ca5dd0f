//! What a checkpoint save leaves on disk (issue 13, section 4): the temporary files of a
//! killed save are cleaned up by the next save, and the checkpoint's permissions follow the
//! umask like any other new file's.

use std::path::Path;

use nn::{checkpoint, Activation, Init, Sequential};
use rand::SeedableRng;

fn net() -> Sequential<f64> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    Sequential::mlp(
        &[2, 3, 1],
        Activation::Relu,
        Activation::Sigmoid,
        &Init::HeNormal,
        &mut rng,
    )
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn a_save_removes_the_temporary_files_a_killed_save_left() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A save killed mid-write leaves its full-size temporary file: one from a process that no
    // longer exists (process ids never reach u32::MAX - 1 on Linux), one from an older
    // version's naming, aged past the staleness limit.
    std::fs::write(d.join(".checkpoint-4294967294-0-0.tmp"), vec![0u8; 4096]).unwrap();
    let aged = d.join(".checkpoint-Ab3xYz.tmp");
    std::fs::write(&aged, vec![0u8; 4096]).unwrap();
    let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    std::fs::File::options()
        .write(true)
        .open(&aged)
        .unwrap()
        .set_modified(two_hours_ago)
        .unwrap();
    // Files that are not ours, and a fresh temporary of this very process (a save in
    // progress on another thread), stay.
    std::fs::write(d.join("notes.tmp"), b"keep").unwrap();
    std::fs::write(d.join(".checkpoint-notes"), b"keep").unwrap();
    let live = format!(".checkpoint-{}-99-0.tmp", std::process::id());
    std::fs::write(d.join(&live), b"in progress").unwrap();

    checkpoint::save_module(d.join("model.safetensors"), &net()).unwrap();
    let mut want = vec![
        ".checkpoint-notes".to_string(),
        live,
        "model.safetensors".into(),
        "notes.tmp".into(),
    ];
    want.sort();
    assert_eq!(names(d), want);
}

#[cfg(unix)]
#[test]
fn checkpoints_get_the_permissions_of_any_new_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    // `File::create` applies the process umask to 0666: the mode every new file gets.
    let plain = dir.path().join("plain");
    std::fs::File::create(&plain).unwrap();
    let want = std::fs::metadata(&plain).unwrap().permissions().mode() & 0o777;
    let path = dir.path().join("model.safetensors");
    checkpoint::save_module(&path, &net()).unwrap();
    let got = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(got, want, "mode {got:o}, a new file gets {want:o}");
    // Saved again over the existing file: same.
    checkpoint::save_module(&path, &net()).unwrap();
    let got = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(got, want);
    assert_eq!(names(dir.path()), ["model.safetensors", "plain"]);
}
