//! Reading: text to a typed [`Model`](elaborate::Model). Parses with pest, splits words
//! into names where the rule says so, and types every expression (naming defaults,
//! declarations, bracket terms). Never imports the e-graph, networks or printers.

pub mod elaborate;
mod hints;
pub mod numbers;
pub mod parse;
pub mod spacing;
pub mod words;
