//! The `bracket` command line: parses arguments and dispatches to the library.
//! Exit codes: 0 success (with `--check`: verified), 1 a check failed or could not be
//! made (the answer is still printed), 2 bad input or usage (with line and column), and
//! 1 for an internal error.

use bracket::{Error, Format};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "bracket", version, about = "Matrix and tensor calculus in bracket notation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Give up after this many seconds (exit 2); the answer never hangs.
    #[arg(long, global = true, default_value_t = 60.0, value_name = "SECONDS")]
    timeout: f64,
    /// Sizes of dims (`n=1000,m=10`): the simplest form is then the one cheapest to
    /// evaluate (fewest multiply-adds), e.g. `2a(aᵀX)` rather than `2aaᵀX` for a wide X.
    #[arg(long, global = true, value_name = "DIM=SIZE,…")]
    sizes: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum OutputFormat {
    Unicode,
    Ascii,
    Latex,
    Bracket,
    Numpy,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Reads an expression and prints it in the chosen format.
    Simplify {
        /// The expression, with optional declarations before it (`A: matrix; tr(A)`);
        /// `-` reads it from standard input.
        #[arg(allow_hyphen_values = true)]
        expr: String,
        /// Output format.
        #[arg(long, value_enum, default_value = "unicode")]
        format: OutputFormat,
    },
    /// The gradient of a scalar function by each variable: `df = G · dX`. Without
    /// --wrt, a program's backpropagation equations for its `grad J wrt …` query.
    Grad(Derive),
    /// The Jacobian of a function: its dims, then the variable's (`df = J ·_k dX`).
    Jacobian(Derive),
    /// The derivation of the gradient step by step, as the tutorial writes it. Without
    /// --wrt, every backpropagation equation of a program, each with its derivation.
    Derive {
        /// The function, or a program ending with `grad J wrt …`.
        #[arg(allow_hyphen_values = true)]
        expr: String,
        /// The variable.
        #[arg(long = "wrt")]
        wrt: Option<String>,
        /// Output format (unicode, latex or json).
        #[arg(long, value_enum, default_value = "unicode")]
        format: OutputFormat,
    },
    /// The differential d(EXPR) in all variables, as Σ G_i · dX_i.
    D {
        /// The expression.
        #[arg(allow_hyphen_values = true)]
        expr: String,
        /// Print d(EXPR) as the product and chain rules give it, before dX is taken out.
        #[arg(long)]
        raw: bool,
        /// Output format.
        #[arg(long, value_enum, default_value = "unicode")]
        format: OutputFormat,
    },
    /// Reads JSON queries from standard input, one a line, and writes one JSON answer a
    /// line: `{"command": "grad", "expr": "x^T A x", "wrt": ["x"]}`.
    Batch,
    /// Regenerates the worked examples (docs/examples/) from their inputs (examples/).
    Examples {
        /// Where the example inputs are, one directory per section.
        #[arg(long, default_value = "examples")]
        inputs: std::path::PathBuf,
        /// Where the pages go.
        #[arg(long, default_value = "docs/examples")]
        out: std::path::PathBuf,
    },
    /// Evaluates an expression; names without `--at` get seeded random values.
    Eval {
        /// The expression; `-` reads it from standard input.
        #[arg(allow_hyphen_values = true)]
        expr: String,
        /// A value: `--at 'A=[[1,2],[3,4]]'`, `--at 'x=[1,2]'`, `--at 'λ=3'`.
        #[arg(long = "at", value_name = "NAME=JSON")]
        at: Vec<String>,
        /// Seed for the random values.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

/// The arguments of `grad` and `jacobian`.
#[derive(Args)]
struct Derive {
    /// The function, with optional declarations and definitions before it; `-` reads it
    /// from standard input.
    #[arg(allow_hyphen_values = true)]
    expr: String,
    /// A variable (repeat for several).
    #[arg(long = "wrt")]
    wrt: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "unicode")]
    format: OutputFormat,
    /// Compare with finite differences at random points.
    #[arg(long)]
    check: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let limit = std::time::Duration::from_secs_f64(cli.timeout.clamp(0.001, 86_400.0));
    // The work runs on its own thread (with a large stack); this one keeps the time.
    let (send, receive) = std::sync::mpsc::channel();
    let command = cli.command;
    let sizes = cli.sizes;
    let worker = std::thread::Builder::new().stack_size(256 << 20).spawn(move || {
        let _ = send.send(options_of(&sizes).and_then(|options| run(command, &options)));
    });
    if worker.is_err() {
        eprintln!("error: cannot start the worker thread");
        return ExitCode::from(1);
    }
    match receive.recv_timeout(limit) {
        Ok(Ok(Checked::Yes)) => ExitCode::SUCCESS,
        Ok(Ok(Checked::Failed)) => ExitCode::from(1),
        Ok(Err((e, source))) => {
            eprint!("{}", e.render(&source));
            ExitCode::from(2)
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            let e = Error::bare(bracket::ErrorCode::Limit, format!("no answer within {} s", cli.timeout))
                .hint("raise --timeout, or split the input");
            eprintln!("{e}");
            std::process::exit(2);
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            eprintln!("error: internal failure (please report the input)");
            ExitCode::from(1)
        }
    }
}

/// The expression argument, or standard input for `-`.
fn text_of(expr: String) -> Result<String, (Error, String)> {
    if expr != "-" {
        return Ok(expr);
    }
    let mut text = String::new();
    let limit = bracket::MAX_INPUT_BYTES as u64 + 1;
    std::io::Read::read_to_string(&mut std::io::Read::take(std::io::stdin(), limit), &mut text).map_err(|e| {
        (Error::bare(bracket::ErrorCode::Usage, format!("cannot read standard input: {e}")), String::new())
    })?;
    Ok(text)
}

enum Kind {
    Jacobian,
    Other,
}

/// Reads `--sizes n=1000,m=10`.
fn options_of(sizes: &Option<String>) -> Result<bracket::Options, (Error, String)> {
    let mut options = bracket::Options::default();
    let Some(text) = sizes else { return Ok(options) };
    let mut map = indexmap::IndexMap::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let parsed = part.split_once('=').and_then(|(d, n)| n.trim().parse::<f64>().ok().map(|n| (d.trim(), n)));
        match parsed {
            Some((d, n)) if !d.is_empty() && n.is_finite() && n >= 1.0 => {
                map.insert(d.to_string(), n);
            }
            _ => {
                let e = Error::bare(bracket::ErrorCode::Usage, format!("`--sizes`: `{part}` is not `name=size`"))
                    .hint("write sizes as `--sizes n=1000,m=10`, each size at least 1");
                return Err((e, String::new()));
            }
        }
    }
    options.sizes = Some(map);
    Ok(options)
}

/// Whether every check requested passed (or none was requested).
enum Checked {
    Yes,
    Failed,
}

impl Checked {
    fn of(all: impl IntoIterator<Item = bool>) -> Checked {
        if all.into_iter().all(|ok| ok) {
            Checked::Yes
        } else {
            Checked::Failed
        }
    }
}

/// The check, where one could not be made for an error of its own, as not possible: the
/// answer is printed all the same.
fn check_or_not_possible(result: Result<bracket::Check, Error>) -> bracket::Check {
    result.unwrap_or_else(|e| bracket::Check::not_possible(e.message))
}

fn run(command: Command, options: &bracket::Options) -> Result<Checked, (Error, String)> {
    let command_kind = if matches!(command, Command::Jacobian(_)) { Kind::Jacobian } else { Kind::Other };
    match command {
        Command::Simplify { expr, format } => {
            let expr = text_of(expr)?;
            say_notes(&expr, &[]);
            let answer = bracket::simplify_with(&expr, options).map_err(|e| (e, expr.clone()))?;
            let text = match format {
                OutputFormat::Json => {
                    let mut v = answer.json();
                    v["input"] = serde_json::Value::String(expr.clone());
                    bracket::add_notes(&mut v, &expr, &[]);
                    v.to_string()
                }
                other => answer.render(format_of(other)),
            };
            say(&text);
            Ok(Checked::Yes)
        }
        Command::Grad(Derive { expr, wrt, format, check }) | Command::Jacobian(Derive { expr, wrt, format, check }) => {
            let expr = text_of(expr)?;
            say_notes(&expr, &wrt);
            let jac = matches!(&command_kind, Kind::Jacobian);
            if wrt.is_empty() {
                return backprop(&expr, format, check);
            }
            if matches!(format, OutputFormat::Json) {
                let v =
                    bracket::derivatives_json_with(&expr, &wrt, jac, check, options).map_err(|e| (e, expr.clone()))?;
                say(&v.to_string());
                let verdicts = v["derivatives"].as_array().into_iter().flatten().map(|d| &d["check"]["verdict"]);
                return Ok(Checked::of(verdicts.map(|c| !check || c == "verified")));
            }
            let result = if jac {
                bracket::jacobian_with(&expr, &wrt, options)
            } else {
                bracket::grad_with(&expr, &wrt, options)
            };
            let derivatives = result.map_err(|e| (e, expr.clone()))?;
            let mut passed = Vec::new();
            for d in &derivatives {
                let text = d.answer.render(format_of(format));
                if derivatives.len() == 1 {
                    say(&text);
                } else {
                    say(&format!("∇_{} = {text}", d.wrt));
                }
                let needs = bracket::conditions(&d.answer.expr);
                if !needs.is_empty() {
                    // NumPy output stays one Python expression: the condition is a comment.
                    let lead = if matches!(format, OutputFormat::Numpy) { "# " } else { "" };
                    say(&format!("{lead}where {}", needs.join(", ")));
                }
                if check {
                    // After the answer: a check that fails or cannot be made never hides it.
                    let c = check_or_not_possible(bracket::check_derivative(
                        &d.answer.model,
                        &d.function,
                        &d.wrt,
                        &d.answer.expr,
                        3,
                    ));
                    say(&c.line("central differences"));
                    passed.push(c.passed());
                }
            }
            Ok(Checked::of(passed))
        }
        Command::D { expr, format, raw } => {
            let expr = text_of(expr)?;
            say_notes(&expr, &[]);
            let answer = if raw { bracket::differential_of(&expr) } else { bracket::differential_taken_out(&expr) };
            let answer = answer.map_err(|e| (e, expr.clone()))?;
            let text = match format {
                OutputFormat::Json => answer.json().to_string(),
                other => answer.render(format_of(other)),
            };
            say(&text);
            Ok(Checked::Yes)
        }
        Command::Derive { expr, wrt, format } => {
            let expr = text_of(expr)?;
            say_notes(&expr, wrt.as_slice());
            let derivations = match wrt {
                Some(wrt) => vec![bracket::derive(&expr, &wrt).map_err(|e| (e, expr.clone()))?],
                None => {
                    let equations = bracket::backprop(&expr).map_err(|e| {
                        let e = e.hint("give --wrt X, or end a program with `grad J wrt W, b`");
                        (e, expr.clone())
                    })?;
                    equations.into_iter().map(|eq| eq.derivation).collect()
                }
            };
            let text = match format {
                OutputFormat::Json => match &derivations[..] {
                    [one] => one.json().to_string(),
                    all => serde_json::Value::Array(all.iter().map(|d| d.json()).collect()).to_string(),
                },
                other => derivations.iter().map(|d| d.render(format_of(other))).collect::<Vec<_>>().join("\n\n"),
            };
            say(&text);
            Ok(Checked::Yes)
        }
        Command::Batch => {
            let stdin = std::io::stdin();
            let stdout = std::io::stdout();
            // A closed pipe ends the batch quietly.
            let _ = bracket::run_batch(stdin.lock(), std::io::BufWriter::new(stdout.lock()));
            Ok(Checked::Yes)
        }
        Command::Examples { inputs, out } => {
            let pages = bracket::regenerate_examples(&inputs, &out).map_err(|e| (e, String::new()))?;
            for p in pages {
                say(&format!("wrote {}", p.display()));
            }
            Ok(Checked::Yes)
        }
        Command::Eval { expr, at, seed } => {
            let expr = text_of(expr)?;
            say_notes(&expr, &[]);
            let mut given = Vec::new();
            for a in &at {
                let Some((name, value)) = a.split_once('=') else {
                    let e = Error::bare(bracket::ErrorCode::Usage, format!("`--at {a}` needs the form NAME=VALUE"));
                    return Err((e, expr.clone()));
                };
                given.push((name.trim().to_string(), value.to_string()));
            }
            let v = bracket::evaluate(&expr, &given, seed).map_err(|e| (e, expr.clone()))?;
            say(&v.value.to_string());
            if !v.random.is_empty() {
                eprintln!("random values (seed {seed}) for: {}", v.random.join(", "));
            }
            Ok(Checked::Yes)
        }
    }
}

fn format_of(f: OutputFormat) -> Format {
    match f {
        OutputFormat::Unicode => Format::Unicode,
        OutputFormat::Ascii => Format::Ascii,
        OutputFormat::Latex => Format::Latex,
        OutputFormat::Bracket => Format::Bracket,
        OutputFormat::Numpy | OutputFormat::Json => Format::Numpy,
    }
}

/// Prints how the input was read where that may not be what was meant, on stderr.
fn say_notes(text: &str, wrt: &[String]) {
    for note in bracket::notes(text, wrt) {
        eprintln!("note: {note}");
    }
}

/// Prints a line; a closed pipe (`| head`) is not an error.
fn say(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

/// The backpropagation equations of a program, optionally checked: each parameter's
/// gradient, as the equations give it, against finite differences of the whole program.
fn backprop(expr: &str, format: OutputFormat, check: bool) -> Result<Checked, (Error, String)> {
    let fail = |e: Error| (e, expr.to_string());
    // The equations only: their derivations need no e-graph explanation.
    let equations = bracket::backprop_with(expr, bracket::Explain::Result).map_err(fail)?;
    let loss = bracket::read(expr).map(|m| bracket::loss_name(&m)).unwrap_or_else(|_| "J".into());
    let checks = check.then(|| {
        bracket::check_program(expr, &equations, 3).unwrap_or_else(|e| {
            let c = bracket::Check::not_possible(e.message);
            equations.iter().filter(|eq| eq.parameter).map(|eq| (eq.target.clone(), c.clone())).collect()
        })
    });
    match format {
        OutputFormat::Json => {
            let list: Vec<serde_json::Value> = equations
                .iter()
                .map(|eq| {
                    let mut v = eq.answer.json();
                    v["target"] = serde_json::Value::String(eq.target.clone());
                    v["parameter"] = serde_json::Value::Bool(eq.parameter);
                    if let Some(c) = checks.as_ref().and_then(|m| m.get(&eq.target)) {
                        v["check"] = c.json();
                    }
                    v
                })
                .collect();
            let mut v = serde_json::json!({"input": expr, "equations": list});
            bracket::add_notes(&mut v, expr, &[]);
            say(&v.to_string());
        }
        other => {
            for eq in &equations {
                say(&format!("∇_{{{}}}{loss} = {}", eq.target, eq.answer.render(format_of(other))));
            }
            if let Some(checks) = &checks {
                if let Some(all) = checks.values().cloned().reduce(bracket::Check::worst) {
                    say(&all.line("parameters against finite differences of the program"));
                }
            }
        }
    }
    Ok(Checked::of(checks.iter().flat_map(|m| m.values().map(|c| c.passed()))))
}
