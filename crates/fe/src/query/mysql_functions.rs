//! MySQL/StarRocks functions DataFusion has under other names: `year(d)`, `month(d)`,
//! `day(d)` / `dayofmonth(d)`, `hour`, `minute`, `second`, `quarter`, `dayofweek`
//! (1 = Sunday), `dayofyear`, and `if(cond, a, b)`.
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
        }
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        match self.kind {
            Kind::DatePart(..) => Ok(arg_types.to_vec()),
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
    ]
    .into_iter()
    .map(|f| Arc::new(ScalarUDF::new_from_impl(f)))
    .collect()
}
