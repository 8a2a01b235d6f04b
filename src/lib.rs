//! `bracket`: matrix and tensor differential calculus in the bracket notation of the
//! tutorial *Matrix Differential Calculus with Tensors (for Machine Learning)*.
//!
//! The pipeline, one folder a stage, each importing only the stages below it
//! (docs/architecture.md; `tests/layers.rs` enforces it):
//!
//! ```text
//! text ─read─▶ Model (ir) ─calculus─▶ d, take out dX ─egraph─▶ simplest classic form ─render─▶ text
//!                              │                         ▲
//!                              └──── network (bracket terms ⇄ tensor networks) ─┘
//! eval: numbers for every Expr (the oracle of every check); api: the front door.
//! ```

#![warn(missing_docs)]

mod api;
mod calculus;
mod egraph;
mod error;
mod eval;
mod ir;
pub mod limits;
mod network;
mod read;
mod render;

// The front door: text in, results out.
pub use api::codegen::{codegen, definitions, helpers, statements, CodegenOptions, Target};
pub use api::command::{read_sizes, Command, Reply};
pub use api::second::{hessian, hvp, By, Layout, SecondDerivative, VecDerivative};
pub use api::{
    answer_queries, derive, differential_of, differential_taken_out, evaluate, grad, jacobian, notes, notes_for_scalar,
    read_answer, simplify, Answer, Derivative, Evaluation,
};
pub use calculus::backprop::{backprop, backprop_with, check_program, evaluate_backprop, loss_name, Equation};
pub use calculus::derive::{derive_in, Derivation, Explain, Step, Through};
pub use calculus::tangent::{second_pass, SecondPass, Tangent};
pub use egraph::{Limits, Options, Report};
pub use error::{invisible, Error, ErrorCode, Result, Span};
pub use eval::check::{check_derivative, Check, Verdict};
pub use limits::MAX_INPUT_BYTES;
pub use render::conditions::{condition_list, conditions, conditions_in, Condition, Relation};
pub use render::{ascii_name, latex_name, py_name, render, render_numpy, Format};

// The representations, for tests and tools that look inside a result.
pub use ir::ast::*;
pub use ir::build::scale;
pub use ir::expr::*;
pub use ir::shape::{Dim, Shape};
pub use read::elaborate::{elaborate, read, Model, NameInfo, PosGroup, Query};
pub use read::parse::parse;

// The stages, for the tests of each.
pub use api::batch::{batch_line, error_json, run_batch, run_batch_on, run_batch_within};
pub use api::examples::regenerate_examples;
pub use calculus::diff::differential;
pub use calculus::takeout::take_out;
pub use egraph::contract::raise_by_contraction;
pub use egraph::raise::{canonical, terms_to_expr};
pub use egraph::rules::{
    load as load_rules, prepare as prepare_rules, rules, table as rules_table, Guard, Rule, RuleSet, APPLIERS,
    FILES as RULE_FILES, PREPARED as PREPARED_RULES,
};
pub use egraph::tensorops::raise_to_tensor_operators;
pub use egraph::{contains_network, is_classic, operations, simplify_expr};
pub use eval::{close, eval, random_env, Domain, Draw, Env, Number};
pub use network::{lower, Term};
pub use render::bracket::to_bracket;
