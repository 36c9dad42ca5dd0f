//! The seeds' reference numbers (`data/reference/seed_numbers.json`, what the course's NumPy
//! code prints), for tests and for the README's comparison table.
//!
//! The file was written by Python's `json`, which spells an infinite cost `Infinity` (the course's
//! "random" initialization prints `inf` at iteration 0): that token is read as `f64::INFINITY`.

use std::path::Path;

use serde_json::Value;

/// The parsed reference file.
#[derive(Clone, Debug)]
pub struct Reference(pub Value);

impl Reference {
    /// Reads the bundled reference file.
    pub fn load_bundled() -> Result<Self, String> {
        Self::load(&crate::paths::resolve(Path::new(
            crate::paths::SEED_NUMBERS,
        )))
    }

    /// Reads a reference file.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("parsing {}: {e}", path.display()))
    }

    /// Parses reference JSON, reading `Infinity` / `-Infinity` as infinite numbers.
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        // JSON has no infinity: mark it with a string no number can be, then restore it.
        let marked = text
            .replace("-Infinity", "\"-inf\"")
            .replace("Infinity", "\"inf\"");
        serde_json::from_str(&marked).map(Reference)
    }

    /// The value at a `/`-separated path such as `init/he/train_acc`.
    pub fn get(&self, path: &str) -> &Value {
        let mut v = &self.0;
        for key in path.split('/') {
            v = match (v, key.parse::<usize>()) {
                (Value::Array(items), Ok(i)) => &items[i],
                _ => &v[key],
            };
        }
        assert!(!v.is_null(), "reference: no value at {path}");
        v
    }

    /// A number (`inf` markers become infinities).
    pub fn number(&self, path: &str) -> f64 {
        as_number(self.get(path)).unwrap_or_else(|| panic!("reference: {path} is not a number"))
    }

    /// A list of numbers.
    pub fn numbers(&self, path: &str) -> Vec<f64> {
        self.get(path)
            .as_array()
            .unwrap_or_else(|| panic!("reference: {path} is not a list"))
            .iter()
            .map(|v| as_number(v).unwrap_or_else(|| panic!("reference: {path} holds {v}")))
            .collect()
    }

    /// A matrix (list of rows) as row-major data and its shape.
    pub fn matrix(&self, path: &str) -> (Vec<f64>, [usize; 2]) {
        let rows = self
            .get(path)
            .as_array()
            .unwrap_or_else(|| panic!("reference: {path} is not a matrix"));
        let mut data = vec![];
        for r in rows {
            let r = r
                .as_array()
                .unwrap_or_else(|| panic!("reference: {path} row"));
            data.extend(r.iter().map(|v| as_number(v).expect("number in matrix")));
        }
        let n_rows = rows.len();
        (data.clone(), [n_rows, data.len() / n_rows.max(1)])
    }
}

fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) if s == "inf" => Some(f64::INFINITY),
        Value::String(s) if s == "-inf" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

/// `|a - b| <= tol·|b|`, with infinities equal only to themselves.
pub fn close(a: f64, b: f64, tol: f64) -> bool {
    if b.is_infinite() {
        a == b
    } else {
        (a - b).abs() <= tol * b.abs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_infinity_and_exact_numbers() {
        let r =
            Reference::parse(r#"{"a": {"b": [Infinity, 0.6229291120081059, -Infinity]}}"#).unwrap();
        let v = r.numbers("a/b");
        assert_eq!(v[0], f64::INFINITY);
        assert_eq!(v[1], 0.6229291120081059);
        assert_eq!(v[2], f64::NEG_INFINITY);
    }

    #[test]
    fn the_bundled_file_has_every_assignment() {
        let r = Reference::load_bundled().unwrap();
        assert_eq!(r.numbers("init/random/costs_every_1000")[0], f64::INFINITY);
        assert_eq!(r.number("init/he/costs_every_1000/0"), 0.8830537463419761);
        assert_eq!(r.number("gc/n_d_difference_buggy"), 0.2850931567761624);
        let (x, shape) = r.matrix("gc/test_case/X");
        assert_eq!(shape, [4, 3]);
        assert_eq!(x[0], 1.6243453636632417);
        assert_eq!(r.numbers("mnist/costs_every_10_epochs").len(), 10);
    }

    #[test]
    fn close_is_relative_and_strict_about_infinity() {
        assert!(close(1.0 + 1e-10, 1.0, 1e-9));
        assert!(!close(1.0 + 1e-8, 1.0, 1e-9));
        assert!(!close(1e300, f64::INFINITY, 1e-9));
        assert!(close(f64::INFINITY, f64::INFINITY, 1e-9));
    }
}
