//! Calculus: the d operator, taking dX out of a differential, derivations step by step,
//! and backpropagation over a program's definitions.

pub mod answer;
pub mod backprop;
pub mod derive;
pub mod diff;
pub mod gradient;
pub mod hessian;
pub mod takeout;
pub mod tangent;
pub mod vec;
