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
use std::hash::BuildHasherDefault;
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
    /// Integer and date keys spanning a range not much wider than their count: one bit per
    /// value of the range, from `min`.
    Dense { min: i64, bits: Vec<u64> },
    /// Other integer and date keys, as i64.
    Ints(HashSet<i64, BuildHasherDefault<IntHasher>>),
    /// String keys, as bytes.
    Strings(HashSet<Box<[u8]>>),
    /// Any other type: DataFusion's hashed IN list.
    Other(Arc<dyn PhysicalExpr>),
}

/// A hash for i64 keys (SipHash, std's default, costs more than the lookup itself; the keys
/// come from the query's own rows, not from a peer that could pick colliding ones).
#[derive(Default)]
struct IntHasher(u64);

impl Hasher for IntHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 =
                (self.0.rotate_left(5) ^ u64::from(*b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn write_i64(&mut self, v: i64) {
        // Fibonacci hashing, folded so the high bits (hashbrown's control bytes) and the low
        // bits (its bucket index) both depend on every bit of the key.
        let h = (v as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = h ^ (h >> 32);
    }
}

/// Widest range (in values) a dense key set covers per key, and at most in all.
const DENSE_SPAN_PER_KEY: u64 = 64;
const DENSE_MAX_SPAN: u64 = 1 << 30;

/// The keys as a dense bitmap when their range is narrow enough.
fn dense(keys: &[i64]) -> Option<Membership> {
    let min = *keys.iter().min()?;
    let max = *keys.iter().max()?;
    let span = u64::try_from(i128::from(max) - i128::from(min) + 1).ok()?;
    if span > DENSE_MAX_SPAN
        || span
            > (keys.len() as u64)
                .saturating_mul(DENSE_SPAN_PER_KEY)
                .max(4096)
    {
        return None;
    }
    let mut bits = vec![0u64; usize::try_from(span.div_ceil(64)).ok()?];
    for &k in keys {
        let at = (k - min) as u64;
        bits[(at / 64) as usize] |= 1 << (at % 64);
    }
    Some(Membership::Dense { min, bits })
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
                let keys: Vec<i64> = keys.as_primitive::<Int64Type>().iter().flatten().collect();
                if let Some(d) = dense(&keys) {
                    return Ok(d);
                }
                return Ok(Membership::Ints(keys.into_iter().collect()));
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
            Membership::Dense { min, bits } => {
                let probe = as_i64(&self.expr.evaluate(batch)?.into_array(rows)?)?;
                let probe = probe.as_primitive::<Int64Type>();
                let values = probe.values();
                let (min, span) = (*min, bits.len() as u64 * 64);
                let found = BooleanBuffer::collect_bool(rows, |i| {
                    let at = values[i].wrapping_sub(min) as u64;
                    at < span && bits[(at / 64) as usize] & (1 << (at % 64)) != 0
                });
                BooleanArray::new(found, probe.nulls().cloned())
            }
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
    fn dense_and_sparse_integer_sets_answer_alike() {
        let k: Arc<dyn PhysicalExpr> = Arc::new(Column::new("k", 0));
        // Dense: every third value of a range; sparse: the same spread far apart, with the
        // extremes of i64.
        let dense_keys: Vec<i64> = (0..5000).map(|i| 1_000 + 3 * i).collect();
        let sparse_keys: Vec<i64> = (0..5000)
            .map(|i| i * 1_000_003)
            .chain([i64::MIN, i64::MAX])
            .collect();
        for keys in [dense_keys, sparse_keys] {
            let set = KeySetExpr::new(k.clone(), Arc::new(Int64Array::from(keys.clone())));
            let mut probe: Vec<Option<i64>> = keys.iter().map(|&v| Some(v)).collect();
            probe.extend(keys.iter().map(|&v| Some(v.wrapping_add(1))));
            probe.extend([
                None,
                Some(i64::MIN + 1),
                Some(i64::MAX - 1),
                Some(0),
                Some(-1),
            ]);
            let want: Vec<Option<bool>> =
                probe.iter().map(|p| p.map(|v| keys.contains(&v))).collect();
            let got = evaluate(&set, Arc::new(Int64Array::from(probe)));
            assert_eq!(got, want);
            let dense = matches!(
                set.membership(&Schema::new(vec![Field::new("k", DataType::Int64, true)]))
                    .expect("membership"),
                Membership::Dense { .. }
            );
            assert_eq!(dense, keys[0] == 1_000, "dense only for the narrow range");
        }
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
