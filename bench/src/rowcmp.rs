//! Comparing two systems' answers to the same query: result sets as text (a MySQL text
//! result, or DuckDB's values printed the same way), NULL as `None`.
//!
//! Two cells are equal when their texts are (trailing blanks ignored), or when both are
//! numbers that agree to a relative 1e-6, or, when both are printed with at least two
//! decimals, to one unit of the shorter one's last decimal (one system printed the other's
//! value rounded or truncated to fewer decimals: a DECIMAL average against a DOUBLE one).
//! Rows are compared in order first; when that fails, sorted (ties of an ORDER BY may come in
//! either order).

use std::cmp::Ordering;

/// A result set as text.
pub type Rows = [Vec<Option<String>>];

/// How two result sets compare.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The same rows in the same order.
    Same,
    /// The same rows, in another order.
    SameUnordered,
    /// A different number of rows.
    RowCount {
        /// Rows of the first set.
        a: usize,
        /// Rows of the second set.
        b: usize,
    },
    /// A different number of columns.
    ColumnCount {
        /// Columns of the first set.
        a: usize,
        /// Columns of the second set.
        b: usize,
    },
    /// The first cell (in order) that differs.
    Differs {
        /// Row index, from 0.
        row: usize,
        /// Column index, from 0.
        col: usize,
        /// The first set's value.
        a: Option<String>,
        /// The second set's value.
        b: Option<String>,
    },
}

impl Verdict {
    /// True for [`Verdict::Same`] and [`Verdict::SameUnordered`].
    pub fn matches(&self) -> bool {
        matches!(self, Verdict::Same | Verdict::SameUnordered)
    }

    /// A short description, naming the systems `a` and `b`.
    pub fn describe(&self, a_name: &str, b_name: &str) -> String {
        let show = |v: &Option<String>| match v {
            Some(s) => format!("{s:?}"),
            None => "NULL".into(),
        };
        match self {
            Verdict::Same => "same".into(),
            Verdict::SameUnordered => "same rows, other order".into(),
            Verdict::RowCount { a, b } => {
                format!("ROW COUNT DIFFERS: {a_name} {a}, {b_name} {b}")
            }
            Verdict::ColumnCount { a, b } => {
                format!("COLUMN COUNT DIFFERS: {a_name} {a}, {b_name} {b}")
            }
            Verdict::Differs { row, col, a, b } => format!(
                "VALUES DIFFER: row {} column {}: {a_name} {}, {b_name} {}",
                row + 1,
                col + 1,
                show(a),
                show(b)
            ),
        }
    }
}

fn decimals(s: &str) -> usize {
    if s.contains(['e', 'E']) {
        return 0;
    }
    s.split_once('.').map(|(_, f)| f.len()).unwrap_or(0)
}

fn number(s: &str) -> Option<f64> {
    let v: f64 = s.parse().ok()?;
    v.is_finite().then_some(v)
}

/// True when two cells hold the same value (see the module's rules).
pub fn cell_eq(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => {
            let (x, y) = (x.trim_end(), y.trim_end());
            if x == y {
                return true;
            }
            let (Some(p), Some(q)) = (number(x), number(y)) else {
                return false;
            };
            let d = decimals(x).min(decimals(y));
            let rounding = if d >= 2 {
                10f64.powi(-(d as i32)) * (1.0 + 1e-9)
            } else {
                0.0
            };
            let tol = (1e-6 * p.abs().max(q.abs())).max(rounding).max(1e-12);
            (p - q).abs() <= tol
        }
        _ => false,
    }
}

/// The first cell where two rows differ.
fn row_diff(a: &[Option<String>], b: &[Option<String>]) -> Option<usize> {
    (0..a.len().max(b.len())).find(|&i| {
        !cell_eq(
            a.get(i).and_then(|v| v.as_deref()),
            b.get(i).and_then(|v| v.as_deref()),
        )
    })
}

/// Orders cells for the unordered comparison: NULL first, numbers by value, then text.
fn cell_cmp(a: &Option<String>, b: &Option<String>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => match (number(x.trim_end()), number(y.trim_end())) {
            (Some(p), Some(q)) => p.total_cmp(&q),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => x.trim_end().cmp(y.trim_end()),
        },
    }
}

fn row_cmp(a: &[Option<String>], b: &[Option<String>]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        match cell_cmp(x, y) {
            Ordering::Equal => {}
            o => return o,
        }
    }
    a.len().cmp(&b.len())
}

/// Compares two result sets.
pub fn compare(a: &Rows, b: &Rows) -> Verdict {
    if a.len() != b.len() {
        return Verdict::RowCount {
            a: a.len(),
            b: b.len(),
        };
    }
    let (ca, cb) = (
        a.first().map(Vec::len).unwrap_or(0),
        b.first().map(Vec::len).unwrap_or(0),
    );
    if ca != cb {
        return Verdict::ColumnCount { a: ca, b: cb };
    }
    let first = a
        .iter()
        .zip(b)
        .enumerate()
        .find_map(|(i, (x, y))| row_diff(x, y).map(|c| (i, c)));
    let Some((row, col)) = first else {
        return Verdict::Same;
    };
    let mut sa: Vec<&Vec<Option<String>>> = a.iter().collect();
    let mut sb: Vec<&Vec<Option<String>>> = b.iter().collect();
    sa.sort_by(|x, y| row_cmp(x, y));
    sb.sort_by(|x, y| row_cmp(x, y));
    if sa.iter().zip(&sb).all(|(x, y)| row_diff(x, y).is_none()) {
        return Verdict::SameUnordered;
    }
    Verdict::Differs {
        row,
        col,
        a: a[row].get(col).cloned().flatten(),
        b: b[row].get(col).cloned().flatten(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(v: &[&[Option<&str>]]) -> Vec<Vec<Option<String>>> {
        v.iter()
            .map(|r| r.iter().map(|c| c.map(str::to_string)).collect())
            .collect()
    }

    #[test]
    fn cells() {
        assert!(cell_eq(Some("GERMANY"), Some("GERMANY  ")));
        assert!(cell_eq(Some("37734107.00"), Some("37734107.0")));
        assert!(cell_eq(Some("25.5752"), Some("25.575154611454693")));
        // DataFusion truncates a DECIMAL average; DuckDB's is a DOUBLE.
        assert!(cell_eq(Some("0.047758"), Some("0.047758620689655175")));
        assert!(!cell_eq(Some("0.047756"), Some("0.047758620689655175")));
        assert!(cell_eq(
            Some("0.05008133906964238"),
            Some("0.050081339069642")
        ));
        assert!(!cell_eq(Some("0.0500"), Some("0.0600")));
        assert!(!cell_eq(Some("0"), Some("0.04")));
        assert!(!cell_eq(Some("12"), Some("13")));
        assert!(!cell_eq(Some("1995-01-01"), Some("1995-01-02")));
        assert!(!cell_eq(None, Some("")));
        assert!(cell_eq(None, None));
    }

    #[test]
    fn sets() {
        let a = rows(&[&[Some("A"), Some("1.00")], &[Some("B"), Some("2.00")]]);
        let b = rows(&[&[Some("B"), Some("2.0")], &[Some("A"), Some("1")]]);
        assert_eq!(compare(&a, &a), Verdict::Same);
        assert_eq!(compare(&a, &b), Verdict::SameUnordered);
        assert_eq!(compare(&a, &b[..1]), Verdict::RowCount { a: 2, b: 1 });
        let c = rows(&[&[Some("A"), Some("1.00")], &[Some("B"), Some("2.50")]]);
        let v = compare(&a, &c);
        assert_eq!(
            v,
            Verdict::Differs {
                row: 1,
                col: 1,
                a: Some("2.00".into()),
                b: Some("2.50".into())
            }
        );
        assert!(v.describe("t", "d").contains("row 2 column 2"));
        assert!(compare(&[], &[]).matches());
    }
}
