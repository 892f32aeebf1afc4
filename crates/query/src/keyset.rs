//! Membership in a set of keys: how a hash join's build-side keys travel to the backends that
//! scan its probe side (runtime filters).
//!
//! DataFusion hands a join's keys to its probe side as an `IN` list of literals. Sent as they
//! are, each literal is a protobuf message that every tablet's fragment decodes into an
//! expression of its own: thousands of keys cost more to decode than they save. A
//! [`KeySetExpr`] carries the keys as one Arrow array (Arrow IPC on the wire) and hashes
//! them on first use (integers and dates as i64, strings as bytes; other types through
//! DataFusion's hashed `IN` list).

use std::fmt;
use std::hash::Hash;
use std::hash::Hasher;
use std::sync::Arc;
use std::sync::OnceLock;

use arrow::array::Array;
use arrow::array::ArrayRef;
use arrow::array::AsArray;
use arrow::array::BooleanArray;
use arrow::buffer::BooleanBuffer;
use arrow::compute::cast;
use arrow::datatypes::DataType;
use arrow::datatypes::Field;
use arrow::datatypes::Int64Type;
use arrow::datatypes::Schema;
use arrow::record_batch::RecordBatch;
use datafusion::common::DataFusionError;
use datafusion::common::HashSet;
use datafusion::common::Result as DfResult;
use datafusion::logical_expr::ColumnarValue;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::InListExpr;

/// `expr IN (keys)`, the keys distinct and not NULL.
#[derive(Debug)]
pub struct KeySetExpr {
    expr: Arc<dyn PhysicalExpr>,
    keys: ArrayRef,
    /// The keys hashed, built on the first batch (it needs the input's schema); an error is
    /// kept as text.
    set: OnceLock<Result<Membership, String>>,
}

/// The keys, ready for lookups.
#[derive(Debug)]
enum Membership {
    /// Integer and date keys, as i64.
    Ints(HashSet<i64>),
    /// String keys, as bytes.
    Strings(HashSet<Box<[u8]>>),
    /// Any other type: DataFusion's hashed IN list.
    Other(Arc<dyn PhysicalExpr>),
}

/// Whether keys of type `t` are looked up as i64.
fn int_like(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::Date32
            | DataType::Date64
    )
}

fn string_like(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

/// `a` as i64 values (`int_like` types only).
fn as_i64(a: &ArrayRef) -> DfResult<ArrayRef> {
    let a = match a.data_type() {
        DataType::Date32 => cast(a, &DataType::Int32)?,
        DataType::Date64 => cast(a, &DataType::Int64)?,
        _ => a.clone(),
    };
    Ok(cast(&a, &DataType::Int64)?)
}

impl KeySetExpr {
    /// `expr IN (keys)`.
    pub fn new(expr: Arc<dyn PhysicalExpr>, keys: ArrayRef) -> Self {
        KeySetExpr {
            expr,
            keys,
            set: OnceLock::new(),
        }
    }

    /// The probe-side expression.
    pub fn expr(&self) -> &Arc<dyn PhysicalExpr> {
        &self.expr
    }

    /// The keys.
    pub fn keys(&self) -> &ArrayRef {
        &self.keys
    }

    /// The keys as Arrow IPC (one batch of one column).
    pub fn encode_keys(&self) -> DfResult<Vec<u8>> {
        let schema = Arc::new(Schema::new(vec![Field::new(
            "k",
            self.keys.data_type().clone(),
            true,
        )]));
        let batch = RecordBatch::try_new(schema.clone(), vec![self.keys.clone()])?;
        let mut buf = Vec::new();
        {
            let mut w = arrow::ipc::writer::StreamWriter::try_new(&mut buf, &schema)?;
            w.write(&batch)?;
            w.finish()?;
        }
        Ok(buf)
    }

    /// The keys from [`KeySetExpr::encode_keys`]'s bytes.
    pub fn decode_keys(buf: &[u8]) -> DfResult<ArrayRef> {
        let mut reader = arrow::ipc::reader::StreamReader::try_new(buf, None)?;
        let batch = reader
            .next()
            .ok_or_else(|| DataFusionError::Plan("a key set without keys".into()))??;
        if batch.num_columns() != 1 {
            return Err(DataFusionError::Plan(format!(
                "a key set has {} columns, not 1",
                batch.num_columns()
            )));
        }
        Ok(batch.column(0).clone())
    }

    fn membership(&self, schema: &Schema) -> DfResult<&Membership> {
        let built = self.set.get_or_init(|| {
            let probe_type = self.expr.data_type(schema).map_err(|e| e.to_string())?;
            let key_type = self.keys.data_type();
            if int_like(&probe_type) && int_like(key_type) {
                let keys = as_i64(&self.keys).map_err(|e| e.to_string())?;
                let keys = keys.as_primitive::<Int64Type>();
                return Ok(Membership::Ints(keys.iter().flatten().collect()));
            }
            if string_like(&probe_type) && string_like(key_type) {
                let keys = cast(&self.keys, &DataType::Utf8).map_err(|e| e.to_string())?;
                let keys = keys.as_string::<i32>();
                return Ok(Membership::Strings(
                    keys.iter()
                        .flatten()
                        .map(|k| k.as_bytes().to_vec().into_boxed_slice())
                        .collect(),
                ));
            }
            InListExpr::try_new_from_array(self.expr.clone(), self.keys.clone(), false, schema)
                .map(|e| Membership::Other(Arc::new(e)))
                .map_err(|e| e.to_string())
        });
        built
            .as_ref()
            .map_err(|e| DataFusionError::Execution(format!("key set filter: {e}")))
    }
}

impl fmt::Display for KeySetExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} IN ({} keys)", self.expr, self.keys.len())
    }
}

impl PartialEq for KeySetExpr {
    fn eq(&self, other: &Self) -> bool {
        self.expr.as_ref() == other.expr.as_ref() && self.keys.to_data() == other.keys.to_data()
    }
}

impl Eq for KeySetExpr {}

impl Hash for KeySetExpr {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.expr.hash(state);
        self.keys.len().hash(state);
    }
}

impl PhysicalExpr for KeySetExpr {
    fn data_type(&self, _input_schema: &Schema) -> DfResult<DataType> {
        Ok(DataType::Boolean)
    }

    fn nullable(&self, input_schema: &Schema) -> DfResult<bool> {
        self.expr.nullable(input_schema)
    }

    fn evaluate(&self, batch: &RecordBatch) -> DfResult<ColumnarValue> {
        let rows = batch.num_rows();
        let found = match self.membership(batch.schema_ref())? {
            Membership::Other(in_list) => return in_list.evaluate(batch),
            Membership::Ints(set) => {
                let probe = as_i64(&self.expr.evaluate(batch)?.into_array(rows)?)?;
                let probe = probe.as_primitive::<Int64Type>();
                let values = probe.values();
                let bits = BooleanBuffer::collect_bool(rows, |i| set.contains(&values[i]));
                BooleanArray::new(bits, probe.nulls().cloned())
            }
            Membership::Strings(set) => {
                let probe = cast(
                    &self.expr.evaluate(batch)?.into_array(rows)?,
                    &DataType::Utf8,
                )?;
                let probe = probe.as_string::<i32>();
                let bits =
                    BooleanBuffer::collect_bool(rows, |i| set.contains(probe.value(i).as_bytes()));
                BooleanArray::new(bits, probe.nulls().cloned())
            }
        };
        Ok(ColumnarValue::Array(Arc::new(found)))
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![&self.expr]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> DfResult<Arc<dyn PhysicalExpr>> {
        let [expr] = <[Arc<dyn PhysicalExpr>; 1]>::try_from(children).map_err(|c| {
            DataFusionError::Internal(format!("a key set has 1 child, not {}", c.len()))
        })?;
        Ok(Arc::new(KeySetExpr::new(expr, self.keys.clone())))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.expr.fmt_sql(f)?;
        write!(f, " IN ({} keys)", self.keys.len())
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::Date32Array;
    use arrow::array::Decimal128Array;
    use arrow::array::Int32Array;
    use arrow::array::Int64Array;
    use arrow::array::StringArray;
    use datafusion::physical_expr::expressions::Column;

    use super::*;

    #[test]
    fn keys_survive_the_wire_and_filter_rows() {
        let keys: ArrayRef = Arc::new(StringArray::from(vec!["b", "d"]));
        let set = KeySetExpr::new(Arc::new(Column::new("s", 1)), keys.clone());
        let bytes = set.encode_keys().expect("encode");
        let back = KeySetExpr::decode_keys(&bytes).expect("decode");
        assert_eq!(back.to_data(), keys.to_data());
        let set = KeySetExpr::new(Arc::new(Column::new("s", 1)), back);
        assert_eq!(set.to_string(), "s@1 IN (2 keys)");
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int32, false),
            Field::new("s", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int32Array::from(vec![1, 2, 3, 4])),
                Arc::new(StringArray::from(vec![
                    Some("a"),
                    Some("b"),
                    None,
                    Some("d"),
                ])),
            ],
        )
        .expect("batch");
        let out = set
            .evaluate(&batch)
            .expect("evaluate")
            .into_array(4)
            .expect("array");
        let out = out
            .as_any()
            .downcast_ref::<BooleanArray>()
            .expect("booleans");
        assert_eq!(
            out.iter().collect::<Vec<_>>(),
            [Some(false), Some(true), None, Some(true)]
        );
        assert!(KeySetExpr::decode_keys(b"garbage").is_err());
    }

    fn evaluate(set: &KeySetExpr, column: ArrayRef) -> Vec<Option<bool>> {
        let schema = Arc::new(Schema::new(vec![Field::new(
            "k",
            column.data_type().clone(),
            true,
        )]));
        let rows = column.len();
        let batch = RecordBatch::try_new(schema, vec![column]).expect("batch");
        let out = set
            .evaluate(&batch)
            .expect("evaluate")
            .into_array(rows)
            .expect("array");
        out.as_boolean().iter().collect()
    }

    #[test]
    fn integer_date_and_other_keys_are_found() {
        let k: Arc<dyn PhysicalExpr> = Arc::new(Column::new("k", 0));
        let ints = KeySetExpr::new(k.clone(), Arc::new(Int64Array::from(vec![7, -3])));
        assert_eq!(
            evaluate(
                &ints,
                Arc::new(Int64Array::from(vec![Some(7), Some(8), None, Some(-3)]))
            ),
            [Some(true), Some(false), None, Some(true)]
        );
        let dates = KeySetExpr::new(k.clone(), Arc::new(Date32Array::from(vec![19000])));
        assert_eq!(
            evaluate(&dates, Arc::new(Date32Array::from(vec![19000, 19001]))),
            [Some(true), Some(false)]
        );
        // Decimals go through DataFusion's IN list.
        let dec = |v: Vec<i128>| -> ArrayRef {
            Arc::new(
                Decimal128Array::from(v)
                    .with_precision_and_scale(15, 2)
                    .expect("decimal"),
            )
        };
        let decimals = KeySetExpr::new(k, dec(vec![150, 275]));
        assert_eq!(
            evaluate(&decimals, dec(vec![150, 151, 275])),
            [Some(true), Some(false), Some(true)]
        );
    }

    #[test]
    fn a_key_set_of_the_wrong_type_is_an_error_not_a_crash() {
        let keys: ArrayRef = Arc::new(StringArray::from(vec!["x"]));
        let set = KeySetExpr::new(Arc::new(Column::new("k", 0)), keys);
        let schema = Arc::new(Schema::new(vec![Field::new("k", DataType::Int32, false)]));
        let batch =
            RecordBatch::try_new(schema, vec![Arc::new(Int32Array::from(vec![1]))]).expect("batch");
        let e = set.evaluate(&batch).expect_err("type mismatch");
        assert!(e.to_string().contains("key set filter"), "{e}");
    }
}
