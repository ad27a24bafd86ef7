//! JSON values: parsing (both quote styles), compact and pretty writing with `%g` doubles.
//!
//! # Nesting
//!
//! A value built by the server (parsed from text, made by a function or a constructor, or
//! assigned through a path) is nested at most [`MAX_DEPTH`] arrays/objects deep; building a
//! deeper one fails with [`too_deep`]. Values read back from storage may be deeper (rows
//! written before the limit existed must still load), so no walk over a value here (drop,
//! clone, compare, equality, hash, writing, `Debug`, depth) uses stack in proportion to its
//! depth: each recurses at most a few dozen levels (the fastest way over the usual shallow
//! values) and goes on with an explicit stack ([`Walk`]) below that.
//!
//! The code by part: `value` (the [`Json`] type, its serde form, limits, items and drop),
//! `walk` (the iterative pre-order walk, [`Walk`]), `ops` (ordering, equality, hashing,
//! cloning, depth), `order` (the sort order of ORDER BY and DISTINCT), `write` (compact and pretty text, `Debug`) and `parse` (text in).

mod ops;
mod order;
mod parse;
mod value;
mod walk;
mod write;

#[cfg(test)]
mod tests;

pub use order::cmp_f64;
pub use value::{too_deep, Json, MAX_DEPTH, SERDE_MAX_DEPTH};
pub use walk::{Event, Walk};
