//! NumPy-like printing: matrices print as matrices, with aligned columns.

use std::fmt;

use crate::{Float, Tensor};

impl<T: Float> fmt::Display for Tensor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let precision = f.precision().unwrap_or(4);
        let data = self.to_vec();
        let scientific = data.iter().any(|x| {
            let a = x.abs().as_f64();
            a.is_finite() && a != 0.0 && !(1e-4..1e6).contains(&a)
        });
        let cells: Vec<String> = data
            .iter()
            .map(|x| {
                if !x.is_finite() {
                    format!("{x}")
                } else if scientific {
                    format!("{:.*e}", precision, x)
                } else {
                    format!("{:.*}", precision, x)
                }
            })
            .collect();
        let width = cells.iter().map(String::len).max().unwrap_or(0);
        write!(f, "tensor(")?;
        if self.ndim() == 0 {
            write!(f, "{}", cells.first().map_or("", String::as_str))?;
        } else {
            write_block(f, &cells, self.shape(), width, 7)?;
        }
        write!(f, ", shape={:?}, {}", self.shape(), T::NAME)?;
        if self.requires_grad_flag() {
            write!(f, ", requires_grad")?;
        }
        write!(f, ")")
    }
}

/// Writes a nested bracketed block; `indent` is the column where this block's `[` sits.
fn write_block(
    f: &mut fmt::Formatter<'_>,
    cells: &[String],
    shape: &[usize],
    width: usize,
    indent: usize,
) -> fmt::Result {
    write!(f, "[")?;
    if shape.len() == 1 {
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{c:>width$}")?;
        }
        return write!(f, "]");
    }
    let step = cells.len() / shape[0].max(1);
    for i in 0..shape[0] {
        if i > 0 {
            write!(f, ",")?;
            for _ in 1..shape.len() {
                writeln!(f)?;
            }
            write!(f, "{:indent$}", "", indent = indent + 1)?;
        }
        write_block(
            f,
            &cells[i * step..(i + 1) * step],
            &shape[1..],
            width,
            indent + 1,
        )?;
    }
    write!(f, "]")
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    #[test]
    fn matrices_print_as_aligned_rows() {
        let t = Tensor::<f64>::from_vec2(vec![vec![1.0, -2.5], vec![10.0, 0.25]]);
        assert_eq!(
            format!("{t:.2}"),
            "tensor([[ 1.00, -2.50],\n        [10.00,  0.25]], shape=[2, 2], f64)"
        );
        assert_eq!(
            format!("{}", Tensor::<f32>::scalar(3.0)),
            "tensor(3.0000, shape=[], f32)"
        );
    }
}
