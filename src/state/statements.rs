//! Statements of several rows: the numbered placeholders of multi-row
//! `VALUES` and `IN` lists, and how many rows one statement takes. Every
//! statement is a round trip (to sqlx's SQLite worker thread, or to the
//! PostgreSQL server), and one per row was most of the time of committing
//! a batch of digests.

use super::Backend;
use std::fmt::Write as _;

/// Rows per multi-row statement. Few enough: sqlx looks up each of a
/// SQLite statement's numbered parameters by name
/// (`sqlite3_bind_parameter_name`, a linear scan), so binding cost grows
/// with the square of the count; at 200 rows (1,600 parameters) that
/// lookup was 6 % of a digest run. [`values`] leaves SQLite's unnumbered,
/// so its statements are not bound by it; they keep 32 rows, as a whole
/// batch of 200 in one statement was no faster.
pub(super) const ROWS_PER_STATEMENT: usize = 32;

/// `(…), (…)`: `rows` groups of `cols` parameters, a statement's only ones,
/// bound in order: `$1, $2, …` for PostgreSQL; for SQLite `?`, which sqlx
/// binds by position without the by-name lookup above (at 32 rows of 8
/// that lookup was still ~2 % of a digest run's CPU). Only where nothing
/// else in the statement is a parameter: sqlx counts unnumbered ones apart
/// from the numbered.
pub(super) fn values(backend: Backend, rows: usize, cols: usize) -> String {
    let mut s = String::with_capacity(rows * cols * 5);
    for r in 0..rows {
        s.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..cols {
            s.push_str(if c == 0 { "" } else { ", " });
            match backend {
                Backend::Sqlite => s.push('?'),
                Backend::Postgres => {
                    let _ = write!(s, "${}", 1 + r * cols + c);
                }
            }
        }
        s.push(')');
    }
    s
}

/// `$f, $f+1, …`: `n` numbered parameters from `$first`, for an `IN` list;
/// `NULL` for none, which matches nothing (`IN ()` is no SQL).
pub(super) fn list(n: usize, first: usize) -> String {
    if n == 0 {
        return "NULL".into();
    }
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// SQL built here from the helpers above and constant text, never data.
pub(super) fn sql(s: String) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(s)
}

#[cfg(test)]
mod tests {
    use super::{list, values, Backend};

    #[test]
    fn placeholders_are_numbered_in_order() {
        assert_eq!(values(Backend::Postgres, 2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(values(Backend::Sqlite, 2, 2), "(?, ?), (?, ?)");
        assert_eq!(list(3, 3), "$3, $4, $5");
        assert_eq!(list(0, 2), "NULL");
    }
}
