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

pub use error::{Error, ErrorCode, Result, Span};
pub use limits::MAX_INPUT_BYTES;

pub use ir::ast::*;
pub use ir::expr::*;
pub use ir::shape::{show_shape, Dim, Shape};

pub use ir::build::scale;
pub use read::elaborate::{elaborate, read, read_positions, Model, NameInfo, PosGroup, Query};
pub use read::parse::{parse, parse_with};

pub use network::{gen_network, lower, tidy, Term};
pub use render::bracket::{einsum_spec, render_network, to_bracket};
pub use render::{py_name, render, render_numpy, Format};

pub use eval::check::{check_derivative, check_with, Check, Verdict, TOLERANCE as CHECK_TOLERANCE};
pub use eval::{close, eval, eval_network, random_array, random_env, random_env_sized, Domain, Draw, Env, Number};

pub use egraph::rules::{load as load_rules, rules, Guard, Rule, RuleSet, APPLIERS, FILES as RULE_FILES};
pub use egraph::{contains_network, is_classic, operations, simplify_expr, Limits, Options, Report};

pub use calculus::backprop::{
    backprop, backprop_with, check_program, evaluate_backprop, loss_name, seed_name, Equation,
};
pub use calculus::derive::{derive_in, derive_steps, Derivation, Explain, Step, Through};
pub use calculus::diff::{differential, local_differential};
pub use calculus::takeout::take_out;
pub use egraph::raise::{canonical, merge_terms, raise, terms_to_expr};

pub use api::batch::{batch_line, error_json, run_batch};
pub use api::command::{Command, Reply};
pub use api::examples::regenerate_examples;
pub use api::{
    answer_queries, derivatives_of, derive, differential_of, differential_taken_out, evaluate, grad, grad_with,
    jacobian, jacobian_with, notes, read_answer, simplify, simplify_with, Answer, Derivative, Evaluation,
};
pub use render::conditions::conditions;
