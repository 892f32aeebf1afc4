//! Query pieces shared by the frontend and the backend: plan fragments and their codec.

pub mod conjunction;
pub mod fast_decimal;
pub mod fragment;
pub mod keyset;
pub mod runtime_filter;

pub use fragment::FragmentCodec;
pub use fragment::LeafResolver;
pub use fragment::TabletLeaf;
pub use fragment::TabletLeafExec;
pub use fragment::decode_fragment;
pub use fragment::encode_fragment;
pub use keyset::KeySetExpr;
pub use runtime_filter::RuntimeFilterExpr;

/// The Arrow form of Tessera's column types (what tablets store and queries see).
pub use storage::LARGEINT_PRECISION;
pub use storage::arrow_schema;
pub use storage::arrow_type;
