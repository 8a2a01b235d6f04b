//! `bracket`: matrix and tensor differential calculus in the bracket notation of the
//! tutorial *Matrix Differential Calculus with Tensors (for Machine Learning)*.

mod ast;
mod egraph;
mod elaborate;
mod error;
mod expr;
pub mod limits;
mod parse;
mod shape;
mod words;
pub use egraph::{contains_network, is_classic, operations, simplify_expr, Limits, Options, Report};
mod rules;
pub use rules::{load as load_rules, rules, Guard, Rule, RuleSet, APPLIERS, FILES as RULE_FILES};

pub use ast::*;
pub use elaborate::{elaborate, read, read_positions, scale, Model, NameInfo, PosGroup, Query};
pub use error::{Error, ErrorCode, Result, Span};
pub use expr::*;
pub use parse::{parse, parse_with};
pub use shape::{show_shape, Dim, Shape};
mod eval;
pub use eval::{
    close, eval, eval_network, gen_network, random_array, random_env, random_env_sized, Domain, Draw, Env, Number,
};
mod network;
mod render;
pub use network::{einsum_spec, lower, render_network, tidy, to_bracket, Term};
pub use render::{py_name, render, render_numpy, Format};
mod api;
pub use api::{
    answer_queries, derivatives_of, differential_of, differential_taken_out, evaluate, grad, grad_with, jacobian,
    jacobian_with, notes, read_answer, simplify, simplify_with, Answer, Derivative, Evaluation,
};
pub use limits::MAX_INPUT_BYTES;
mod examples;
pub use examples::regenerate_examples;
mod cancel;
mod check;
mod diff;
mod takeout;
pub use check::{check_derivative, check_program, check_with, Check, Verdict, TOLERANCE as CHECK_TOLERANCE};
pub use diff::differential;
pub use takeout::{canonical, merge_terms, raise, take_out, terms_to_expr};
mod backprop;
pub use backprop::{backprop, backprop_with, evaluate_backprop, loss_name, seed_name, Equation};
pub use diff::local_differential;
mod batch;
pub use batch::{add_notes, backprop_json, batch_line, derivatives_json, derivatives_json_with, error_json, run_batch};
mod conditions;
pub use conditions::conditions;
mod explain;
pub use explain::{derive, derive_in, derive_steps, Derivation, Explain, Step, Through};
