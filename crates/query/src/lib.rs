//! Query pieces shared by the frontend and the backend: plan fragments and their codec.

pub mod fragment;

pub use fragment::FragmentCodec;
pub use fragment::LeafResolver;
pub use fragment::TabletLeaf;
pub use fragment::TabletLeafExec;
pub use fragment::decode_fragment;
pub use fragment::encode_fragment;

/// The Arrow form of Tessera's column types (what tablets store and queries see).
pub use storage::LARGEINT_PRECISION;
pub use storage::arrow_schema;
pub use storage::arrow_type;
