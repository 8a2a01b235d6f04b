//! The representations every stage shares: the syntax tree, typed expressions with their
//! constructors and traversals, and shapes. Imports nothing but `error` and `limits`.

pub mod ast;
pub mod build;
pub mod expr;
pub mod shape;
pub mod symmetry;
