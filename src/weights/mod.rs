//! Kernels several kinds share: memberships and nearest codewords ([`fuzzy`]), least
//! squares on the simplex ([`simplex`]), sparse supports ([`sparse`]) and weight
//! quantization ([`quantize`]).
#![forbid(unsafe_code)]

pub(crate) mod fuzzy;
pub(crate) mod quantize;
pub(crate) mod simplex;
pub(crate) mod sparse;

pub(crate) use fuzzy::Memberships;
pub use fuzzy::Metric;
pub(crate) use simplex::{SimplexSolver, SimplexWorkspace};
pub(crate) use sparse::SparseSolver;
