//! MySQL/StarRocks functions DataFusion has under other names: `year(d)`, `month(d)`,
//! `day(d)` / `dayofmonth(d)`, `hour`, `minute`, `second`, `quarter`, `dayofweek`
//! (1 = Sunday), `dayofyear`, `if(cond, a, b)`, `ucase(s)`, `lcase(s)` and `locate(substr, s)`
//! (Connector/J's metadata queries use the last three).
//!
//! Each is rewritten into DataFusion's own functions when the plan is simplified, so the
//! backends, which run plan fragments with DataFusion's registry, never see them.

use std::sync::Arc;

use arrow::datatypes::DataType;
use arrow::datatypes::TimeUnit;
use datafusion::common::DataFusionError;
use datafusion::common::Result as DfResult;
use datafusion::logical_expr::ColumnarValue;
use datafusion::logical_expr::Expr;
use datafusion::logical_expr::ScalarFunctionArgs;
use datafusion::logical_expr::ScalarUDF;
use datafusion::logical_expr::ScalarUDFImpl;
use datafusion::logical_expr::Signature;
use datafusion::logical_expr::Volatility;
use datafusion::logical_expr::cast;
use datafusion::logical_expr::lit;
use datafusion::logical_expr::simplify::ExprSimplifyResult;
use datafusion::logical_expr::simplify::SimplifyContext;
use datafusion::logical_expr::when;

/// What a function becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    /// `CAST(date_part(unit, CAST(x AS TIMESTAMP)) AS INT) + offset`.
    DatePart(&'static str, i32),
    /// `CASE WHEN cond THEN a ELSE b END`.
    If,
    /// `ucase(s)` = `upper(s)`.
    Upper,
    /// `lcase(s)` = `lower(s)`.
    Lower,
    /// `locate(substr, s)` = `strpos(s, substr)`: 1-based, 0 when absent.
    Locate,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct MysqlFunction {
    name: &'static str,
    kind: Kind,
    signature: Signature,
}

impl ScalarUDFImpl for MysqlFunction {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> DfResult<DataType> {
        match self.kind {
            Kind::DatePart(..) => Ok(DataType::Int32),
            Kind::If => Ok(arg_types.get(1).cloned().unwrap_or(DataType::Null)),
            Kind::Upper | Kind::Lower => Ok(DataType::Utf8),
            Kind::Locate => Ok(DataType::Int64),
        }
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        match self.kind {
            Kind::DatePart(..) => Ok(arg_types.to_vec()),
            Kind::Upper | Kind::Lower | Kind::Locate => {
                let want = if self.kind == Kind::Locate { 2 } else { 1 };
                if arg_types.len() != want {
                    return Err(DataFusionError::Plan(format!(
                        "{}() takes {want} argument(s), got {}",
                        self.name,
                        arg_types.len()
                    )));
                }
                Ok(vec![DataType::Utf8; want])
            }
            Kind::If => {
                let [c, a, b] = arg_types else {
                    return Err(DataFusionError::Plan(
                        "if() takes three arguments: if(condition, then, else)".into(),
                    ));
                };
                let common = datafusion::logical_expr::type_coercion::binary::comparison_coercion(
                    a, b,
                )
                .ok_or_else(|| {
                    DataFusionError::Plan(format!(
                        "if(): the then and else values have types {a} and {b} with no common type"
                    ))
                })?;
                let _ = c;
                Ok(vec![DataType::Boolean, common.clone(), common])
            }
        }
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        Err(DataFusionError::Internal(format!(
            "{}() should have been rewritten before execution",
            self.name
        )))
    }

    fn simplify(&self, args: Vec<Expr>, _info: &SimplifyContext) -> DfResult<ExprSimplifyResult> {
        match self.kind {
            Kind::DatePart(unit, offset) => {
                let [x] = <[Expr; 1]>::try_from(args).map_err(|a| {
                    DataFusionError::Plan(format!(
                        "{}() takes one argument, got {}",
                        self.name,
                        a.len()
                    ))
                })?;
                let ts = cast(x, DataType::Timestamp(TimeUnit::Microsecond, None));
                let part = datafusion::functions::datetime::date_part().call(vec![lit(unit), ts]);
                let mut e = cast(part, DataType::Int32);
                if offset != 0 {
                    e = e + lit(offset);
                }
                Ok(ExprSimplifyResult::Simplified(e))
            }
            Kind::If => {
                let [c, a, b] = <[Expr; 3]>::try_from(args).map_err(|a| {
                    DataFusionError::Plan(format!("if() takes three arguments, got {}", a.len()))
                })?;
                Ok(ExprSimplifyResult::Simplified(when(c, a).otherwise(b)?))
            }
            Kind::Upper | Kind::Lower => {
                let f = if self.kind == Kind::Upper {
                    datafusion::functions::string::upper()
                } else {
                    datafusion::functions::string::lower()
                };
                Ok(ExprSimplifyResult::Simplified(f.call(args)))
            }
            Kind::Locate => {
                let [needle, haystack] = <[Expr; 2]>::try_from(args).map_err(|a| {
                    DataFusionError::Plan(format!("locate() takes two arguments, got {}", a.len()))
                })?;
                let pos = datafusion::functions::unicode::strpos().call(vec![haystack, needle]);
                Ok(ExprSimplifyResult::Simplified(cast(pos, DataType::Int64)))
            }
        }
    }
}

/// The functions to register in a query's session.
pub fn functions() -> Vec<Arc<ScalarUDF>> {
    let date = |name: &'static str, unit: &'static str, offset: i32| MysqlFunction {
        name,
        kind: Kind::DatePart(unit, offset),
        signature: Signature::any(1, Volatility::Immutable),
    };
    [
        date("year", "year", 0),
        date("month", "month", 0),
        date("day", "day", 0),
        date("dayofmonth", "day", 0),
        date("hour", "hour", 0),
        date("minute", "minute", 0),
        date("second", "second", 0),
        date("quarter", "quarter", 0),
        date("dayofweek", "dow", 1),
        date("dayofyear", "doy", 0),
        MysqlFunction {
            name: "if",
            kind: Kind::If,
            signature: Signature::user_defined(Volatility::Immutable),
        },
        MysqlFunction {
            name: "ucase",
            kind: Kind::Upper,
            signature: Signature::user_defined(Volatility::Immutable),
        },
        MysqlFunction {
            name: "lcase",
            kind: Kind::Lower,
            signature: Signature::user_defined(Volatility::Immutable),
        },
        MysqlFunction {
            name: "locate",
            kind: Kind::Locate,
            signature: Signature::user_defined(Volatility::Immutable),
        },
    ]
    .into_iter()
    .map(|f| Arc::new(ScalarUDF::new_from_impl(f)))
    .collect()
}

/// MySQL compares BOOLEAN with numbers (BOOLEAN is TINYINT(1): TRUE = 1), so `flag = 1` is a
/// filter on a BOOLEAN column (what the SQLAlchemy MySQL dialects send for `where(t.c.flag)`),
/// where DataFusion finds no common type for Boolean and Int64. This rewrite casts the BOOLEAN
/// side of a comparison with an integer to BIGINT before type coercion runs.
#[derive(Debug)]
pub struct BooleanIntComparison;

impl datafusion::logical_expr::expr_rewriter::FunctionRewrite for BooleanIntComparison {
    fn name(&self) -> &str {
        "mysql_boolean_int_comparison"
    }

    fn rewrite(
        &self,
        expr: Expr,
        schema: &datafusion::common::DFSchema,
        _config: &datafusion::common::config::ConfigOptions,
    ) -> DfResult<datafusion::common::tree_node::Transformed<Expr>> {
        use datafusion::common::tree_node::Transformed;
        use datafusion::logical_expr::BinaryExpr;
        use datafusion::logical_expr::ExprSchemable;
        use datafusion::logical_expr::Operator;

        let Expr::BinaryExpr(BinaryExpr { left, op, right }) = &expr else {
            return Ok(Transformed::no(expr));
        };
        if !matches!(
            op,
            Operator::Eq
                | Operator::NotEq
                | Operator::Lt
                | Operator::LtEq
                | Operator::Gt
                | Operator::GtEq
                | Operator::IsDistinctFrom
                | Operator::IsNotDistinctFrom
        ) {
            return Ok(Transformed::no(expr));
        }
        // A type that cannot be worked out here is left for type coercion to report.
        let (Ok(lt), Ok(rt)) = (left.get_type(schema), right.get_type(schema)) else {
            return Ok(Transformed::no(expr));
        };
        let (new_left, new_right) = match (&lt, &rt) {
            (DataType::Boolean, t) if t.is_integer() => (
                cast(left.as_ref().clone(), DataType::Int64),
                right.as_ref().clone(),
            ),
            (t, DataType::Boolean) if t.is_integer() => (
                left.as_ref().clone(),
                cast(right.as_ref().clone(), DataType::Int64),
            ),
            _ => return Ok(Transformed::no(expr)),
        };
        Ok(Transformed::yes(Expr::BinaryExpr(BinaryExpr::new(
            Box::new(new_left),
            *op,
            Box::new(new_right),
        ))))
    }
}

#[cfg(test)]
mod boolean_comparison_tests {
    use datafusion::common::DFSchema;
    use datafusion::common::config::ConfigOptions;
    use datafusion::logical_expr::col;
    use datafusion::logical_expr::expr_rewriter::FunctionRewrite;

    use super::*;

    fn schema() -> DFSchema {
        let s = arrow::datatypes::Schema::new(vec![
            arrow::datatypes::Field::new("flag", DataType::Boolean, true),
            arrow::datatypes::Field::new("n", DataType::Int32, true),
            arrow::datatypes::Field::new("s", DataType::Utf8, true),
        ]);
        DFSchema::try_from(s).expect("schema")
    }

    fn rewrite(e: Expr) -> (bool, Expr) {
        let t = BooleanIntComparison
            .rewrite(e, &schema(), &ConfigOptions::default())
            .expect("rewrite");
        (t.transformed, t.data)
    }

    #[test]
    fn boolean_compared_with_an_integer_is_cast() {
        let (changed, e) = rewrite(col("flag").eq(lit(1i64)));
        assert!(changed);
        assert_eq!(e, cast(col("flag"), DataType::Int64).eq(lit(1i64)));
        let (changed, e) = rewrite(col("n").lt(col("flag")));
        assert!(changed);
        assert_eq!(e, col("n").lt(cast(col("flag"), DataType::Int64)));
    }

    #[test]
    fn other_comparisons_are_left_alone() {
        for e in [
            col("flag").eq(lit(true)),
            col("n").eq(lit(1i64)),
            col("s").eq(lit(1i64)),
            col("flag").and(col("flag")),
            col("nope").eq(lit(1i64)),
        ] {
            let (changed, out) = rewrite(e.clone());
            assert!(!changed, "{e} was rewritten");
            assert_eq!(out, e);
        }
    }
}
