//! The `bracket` command line: parses arguments and dispatches to the library.
//! Exit codes: 0 success (with `--check`: verified), 1 a check failed or could not be
//! made (the answer is still printed), 2 bad input or usage (with line and column), and
//! 1 for an internal error.

use bracket::{Error, Format};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::process::ExitCode;

/// mimalloc: the e-graph's many small, short-lived allocations (nodes, match vectors,
/// explanations) spend a quarter of a query in the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(feature = "serve")]
mod serve;

#[derive(Parser)]
#[command(name = "bracket", version, about = "Matrix and tensor calculus in bracket notation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Give up after this many seconds (exit 2); the answer never hangs.
    #[arg(long, global = true, default_value_t = 60.0, value_name = "SECONDS", value_parser = seconds)]
    timeout: f64,
    /// Sizes of dims (`n=1000,m=10`): the simplest form is then the one cheapest to
    /// evaluate (fewest multiply-adds), e.g. `2a(aᵀX)` rather than `2aaᵀX` for a wide X.
    #[arg(long, global = true, value_name = "DIM=SIZE,…")]
    sizes: Option<String>,
}

/// `--timeout`: a number of seconds from a millisecond to a day (`NaN` panicked, and a
/// negative one was taken).
fn seconds(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(t) if (0.001..=86_400.0).contains(&t) => Ok(t),
        _ => Err(format!("`{text}` is not a number of seconds from 0.001 to 86400 (a day)")),
    }
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
    /// The Hessian of a scalar function: for one variable X the gradient's dims, then
    /// X's (`A + Aᵀ` for xᵀAx); for several, every block `∇_Y∇_X`.
    Hessian(Derive),
    /// The Hessian-vector product ∇²f[V] along a direction V of the variable's shape,
    /// without forming the Hessian (`(A + Aᵀ)v`). For a program (no --wrt), the tangent
    /// pass along every parameter's dW: forward over reverse, each d∇_W J a block.
    Hvp {
        /// The function, with optional declarations and definitions before it; `-`
        /// reads it from standard input.
        #[arg(allow_hyphen_values = true)]
        expr: String,
        /// The variable; none for a program's HVP along every parameter.
        #[arg(long = "wrt")]
        wrt: Option<String>,
        /// The direction: a name of the variable's shape, declared or new.
        #[arg(long = "dir")]
        dir: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value = "unicode")]
        format: OutputFormat,
        /// Compare with finite differences of the gradient at random points.
        #[arg(long)]
        check: bool,
    },
    /// The derivation of the gradient step by step, as the tutorial writes it. Without
    /// --wrt, every backpropagation equation of a program, each with its derivation.
    Derive {
        /// The function, or a program ending with `grad J wrt …`.
        #[arg(allow_hyphen_values = true)]
        expr: String,
        /// The variable.
        #[arg(long = "wrt")]
        wrt: Option<String>,
        /// 1: the gradient; 2: the gradient, then the Hessian derived from it.
        #[arg(long, default_value_t = 1)]
        order: u8,
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
    /// A local web page: type a function, read its gradient, derivation, check and code
    /// (`http://127.0.0.1:8080/`), with `POST /api/query` answering batch queries. Each
    /// query gets --timeout seconds; Ctrl-C stops the server.
    #[cfg(feature = "serve")]
    Serve {
        /// The port (0: any free one; the URL is printed).
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// The address to bind; loopback by default, so only this machine reaches it.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// Queries answered at once; more get 503 with Retry-After.
        #[arg(long, default_value_t = 4)]
        slots: usize,
    },
    /// One query of `serve`, read from standard input (each runs in a process of its own).
    #[cfg(feature = "serve")]
    #[command(hide = true)]
    ServeQuery,
    /// Reads JSON queries from standard input, one a line, and writes one JSON answer a
    /// line, in order: `{"command": "grad", "expr": "x^T A x", "wrt": ["x"]}`. Blank
    /// lines are passed over, with no answer.
    Batch {
        /// Threads that answer queries (default: one per core).
        #[arg(long)]
        threads: Option<usize>,
    },
    /// A Python module with `f_and_grad(…)`, returning the value and a dict of gradients
    /// (by each --wrt, or a program's parameters), shared work computed once.
    Codegen {
        /// The function, or a program ending with `grad J wrt …`; `-` reads standard input.
        #[arg(allow_hyphen_values = true)]
        expr: String,
        /// A variable (repeat for several); none for a program's query.
        #[arg(long = "wrt")]
        wrt: Vec<String>,
        /// The array library.
        #[arg(long, value_enum, default_value = "numpy")]
        target: TargetArg,
        /// Write the module to this file instead of standard output.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        /// Add `generate_random_data(seed)` and `check_gradient()`.
        #[arg(long)]
        with_check: bool,
        /// Multiply by inverses rather than call `np.linalg.solve`.
        #[arg(long)]
        no_solve: bool,
    },
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
    /// How a derivative by a matrix is laid out: `tensor` (the function's dims, then
    /// the variable's) or `vec` (the Magnus–Neudecker matrix, column-stacking vec).
    #[arg(long, value_enum, default_value = "tensor")]
    layout: LayoutArg,
}

#[derive(Clone, Copy, ValueEnum)]
enum TargetArg {
    Numpy,
    Jax,
}

#[derive(Clone, Copy, ValueEnum)]
enum LayoutArg {
    Tensor,
    Vec,
}

fn layout_of(l: LayoutArg) -> bracket::Layout {
    match l {
        LayoutArg::Tensor => bracket::Layout::Tensor,
        LayoutArg::Vec => bracket::Layout::Vec,
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The server runs until stopped; --timeout is each query's limit there.
    #[cfg(feature = "serve")]
    if let Command::Serve { port, host, slots } = &cli.command {
        let timeout = std::time::Duration::from_secs_f64(cli.timeout);
        let server = serve::Server { host: host.clone(), port: *port, timeout, slots: *slots };
        return match serve::serve(server) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error[E-usage]: cannot serve on {host}:{port}: {e}");
                ExitCode::from(2)
            }
        };
    }
    #[cfg(feature = "serve")]
    if let Command::ServeQuery = &cli.command {
        return serve::answer_stdin();
    }
    let limit = std::time::Duration::from_secs_f64(cli.timeout);
    // A batch runs until its input ends; --timeout is each query's limit there (one that
    // runs out gets an error line, and the rest are answered).
    if let Command::Batch { threads } = &cli.command {
        // Sizes are a key of each line: a global --sizes would be passed over.
        if cli.sizes.is_some() {
            eprintln!(
                "error[E-usage]: `--sizes` does not apply to batch\n = hint: give a line its sizes as a key: \
                 {{\"command\": \"grad\", \"expr\": \"…\", \"wrt\": [\"X\"], \"sizes\": \"n=10,m=1000\"}}"
            );
            return ExitCode::from(2);
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let stdin = std::io::BufReader::new(std::io::stdin());
        let stdout = std::io::LineWriter::new(std::io::stdout());
        return match bracket::run_batch_within(stdin, stdout, threads.unwrap_or(cores), Some(limit)) {
            // A closed pipe ends the batch quietly.
            Ok(()) => ExitCode::SUCCESS,
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            // No thread could start (no memory for its stack), or the input failed.
            Err(e) => {
                eprintln!("error: the batch stopped: {e}");
                ExitCode::from(1)
            }
        };
    }
    // The work runs on its own thread (with a large stack); this one keeps the time.
    let (send, receive) = std::sync::mpsc::channel();
    let command = cli.command;
    let sizes = cli.sizes;
    let worker = std::thread::Builder::new().stack_size(bracket::limits::WORKER_STACK).spawn(move || {
        let _ = send.send(options_of(&sizes).and_then(|options| run(command, &options)));
    });
    if worker.is_err() {
        eprintln!("error: cannot start the worker thread");
        return ExitCode::from(1);
    }
    let outcome = match receive.recv_timeout(limit) {
        // The answer is being printed: it is the outcome.
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) if !claim_output(Output::TimedOut) => {
            receive.recv().map_err(|_| std::sync::mpsc::RecvTimeoutError::Disconnected)
        }
        other => other,
    };
    match outcome {
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
    let mut bytes = Vec::new();
    let limit = bracket::MAX_INPUT_BYTES as u64 + 1;
    std::io::Read::read_to_end(&mut std::io::Read::take(std::io::stdin(), limit), &mut bytes).map_err(|e| {
        (Error::bare(bracket::ErrorCode::Usage, format!("cannot read standard input: {e}")), String::new())
    })?;
    match String::from_utf8(bytes) {
        Ok(text) => Ok(text),
        // Where: the text up to the first bad byte is as read, and that byte shows as �.
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let byte = e.as_bytes()[at];
            let shown = String::from_utf8_lossy(e.as_bytes()).into_owned();
            let span = bracket::Span::new(at, at + char::REPLACEMENT_CHARACTER.len_utf8());
            let message = format!("the input is not UTF-8: byte 0x{byte:02X} here");
            Err((Error::new(bracket::ErrorCode::Usage, message, span).hint("save the input as UTF-8"), shown))
        }
    }
}

/// Reads `--sizes n=1000,m=10`.
fn options_of(sizes: &Option<String>) -> Result<bracket::Options, (Error, String)> {
    let mut options = bracket::Options::default();
    if let Some(text) = sizes {
        let map = bracket::read_sizes(text).map_err(|e| (e, String::new()))?;
        options.sizes = Some(map);
    }
    Ok(options)
}

/// Whether every check requested passed (or none was requested).
enum Checked {
    Yes,
    Failed,
}

/// The shared command of a subcommand with a query, and the output format.
fn query_of(command: Command) -> Result<Option<(bracket::Command, OutputFormat)>, (Error, String)> {
    Ok(Some(match command {
        Command::Simplify { expr, format } => (bracket::Command::Simplify { expr: text_of(expr)? }, format),
        Command::Grad(Derive { expr, wrt, format, check, layout }) => {
            let layout = layout_of(layout);
            (bracket::Command::Grad { expr: text_of(expr)?, wrt, jacobian: false, check, layout }, format)
        }
        Command::Jacobian(Derive { expr, wrt, format, check, layout }) => {
            let layout = layout_of(layout);
            (bracket::Command::Grad { expr: text_of(expr)?, wrt, jacobian: true, check, layout }, format)
        }
        Command::Hessian(Derive { expr, wrt, format, check, layout }) => {
            (bracket::Command::Hessian { expr: text_of(expr)?, wrt, check, layout: layout_of(layout) }, format)
        }
        Command::Hvp { expr, wrt, dir, format, check } => {
            let (wrt, dir) = (wrt.unwrap_or_default(), dir.unwrap_or_default());
            (bracket::Command::Hvp { expr: text_of(expr)?, wrt, dir, check }, format)
        }
        Command::Derive { expr, wrt, order, format } => {
            (bracket::Command::Derive { expr: text_of(expr)?, wrt, order }, format)
        }
        Command::D { expr, raw, format } => (bracket::Command::Differential { expr: text_of(expr)?, raw }, format),
        Command::Eval { expr, at, seed } => {
            let expr = text_of(expr)?;
            let mut given = Vec::new();
            for a in &at {
                let Some((name, value)) = a.split_once('=') else {
                    let e = Error::bare(bracket::ErrorCode::Usage, format!("`--at {a}` needs the form NAME=VALUE"));
                    return Err((e, expr.clone()));
                };
                given.push((name.trim().to_string(), value.to_string()));
            }
            (bracket::Command::Eval { expr, at: given, seed }, OutputFormat::Unicode)
        }
        Command::Batch { .. } | Command::Examples { .. } | Command::Codegen { .. } => return Ok(None),
        #[cfg(feature = "serve")]
        Command::Serve { .. } | Command::ServeQuery => return Ok(None),
    }))
}

fn run(command: Command, options: &bracket::Options) -> Result<Checked, (Error, String)> {
    match command {
        // (Answered in `main`, each query within --timeout.)
        Command::Batch { .. } => return Ok(Checked::Yes),
        Command::Codegen { expr, wrt, target, out, with_check, no_solve } => {
            let text = text_of(expr)?;
            // Read as `grad` reads it: the same notes.
            say_notes(&text, &wrt, true);
            let target = match target {
                TargetArg::Numpy => bracket::Target::Numpy,
                TargetArg::Jax => bracket::Target::Jax,
            };
            let options = bracket::CodegenOptions { target, solve: !no_solve, with_check };
            let code = bracket::codegen(&text, &wrt, &options).map_err(|e| (e, text.clone()))?;
            match out {
                Some(path) => std::fs::write(&path, code).map_err(|e| {
                    let message = format!("cannot write {}: {e}", path.display());
                    (Error::bare(bracket::ErrorCode::Usage, message), String::new())
                })?,
                None => {
                    if claim_output(Output::Answer) {
                        print!("{code}");
                    }
                }
            }
            return Ok(Checked::Yes);
        }
        Command::Examples { inputs, out } => {
            let pages = bracket::regenerate_examples(&inputs, &out).map_err(|e| (e, String::new()))?;
            for p in pages {
                say(&format!("wrote {}", p.display()));
            }
            return Ok(Checked::Yes);
        }
        _ => {}
    }
    let Some((query, format)) = query_of(command)? else { return Ok(Checked::Yes) };
    let text = query.text().to_string();
    let said = say_notes(&text, &query.wrt(), query.wants_scalar());
    let reply = query.run(options).map_err(|e| (e, text.clone()))?;
    // Notes the command adds to what reading said (an hvp's direction the function reads).
    if let bracket::Reply::Seconds(blocks) = &reply {
        let added = blocks.iter().flat_map(|(d, _)| &d.answer.model.notes).filter(|n| !said.contains(n));
        added.collect::<indexmap::IndexSet<_>>().into_iter().for_each(|n| eprintln!("note: {n}"));
    }
    // A Hessian by a matrix is a 4-tensor, which no classic matrix writes: the layout
    // that does is named.
    if let (bracket::Command::Hessian { layout: bracket::Layout::Tensor, .. }, bracket::Reply::Seconds(blocks)) =
        (&query, &reply)
    {
        if blocks.iter().any(|(b, _)| b.answer.expr.order() > 2) {
            eprintln!(
                "note: a Hessian by a matrix is a 4-tensor, printed with tensor operators; `--layout vec` prints \
                 it as a matrix, d vec(∇) = H d vec(X)"
            );
        }
    }
    if matches!(format, OutputFormat::Json) {
        say(&reply.json(&text, &query.wrt()).to_string());
    } else {
        print_reply(&query, &reply, format);
    }
    Ok(if reply.passed() { Checked::Yes } else { Checked::Failed })
}

/// A label such as `∇_x`, `∇²_w`, `∇_{h}J` or `d∇_{W1}J` in the output's own notation:
/// `nabla_{x}` in ASCII (as the answers write `∇`), `\nabla_{x}` in LaTeX.
fn labelled(label: &str, format: OutputFormat) -> String {
    let (nabla, squared) = match format {
        OutputFormat::Ascii => ("nabla", "nabla^2"),
        OutputFormat::Latex => ("\\nabla", "\\nabla^2"),
        // NumPy output is Python: each result under a Python name, `∇_x` as `grad_x`,
        // `∇²_x` as `hess_x` and the block `∇_y∇_x` as `hess_y_x`.
        OutputFormat::Numpy => {
            let second = label.contains("∇²") || label.matches('∇').count() == 2;
            let name = label.replace("∇²", "∇").replacen('∇', if second { "hess" } else { "grad" }, 1);
            return bracket::py_name(&name.replace('∇', ""));
        }
        _ => return label.to_string(),
    };
    // Every subscript in braces: `_x` → `_{x}`; before `∇` is spelt out, which ends a
    // subscript only as a sign (`∇_H∇_W`, not `nabla_{Hnabla}_{W}`).
    let mut out = String::new();
    let mut chars = label.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c != '_' {
            continue;
        }
        let mut name = String::new();
        if chars.peek() == Some(&'{') {
            chars.next();
            for n in chars.by_ref() {
                if n == '}' {
                    break;
                }
                name.push(n);
            }
        } else {
            while let Some(&n) = chars.peek() {
                if !n.is_alphanumeric() {
                    break;
                }
                name.push(n);
                chars.next();
            }
        }
        // In LaTeX the subscript's names are written as names are (`W1` as `W_1`), and
        // in ASCII spelt out (`τ` as `tau`).
        if matches!(format, OutputFormat::Latex) {
            name = name.split(',').map(bracket::latex_name).collect::<Vec<_>>().join(",");
        } else {
            name = name.split(',').map(bracket::ascii_name).collect::<Vec<_>>().join(",");
        }
        out.push_str(&format!("{{{name}}}"));
    }
    out.replace("∇²", squared).replace('∇', nabla)
}

/// On stderr, how the defined values NumPy output reads are computed, where it reads one
/// that `reads` says it does (NumPy output stays one Python expression per block).
fn note_definitions(query: &bracket::Command, reads: impl Fn(&str) -> bool) {
    let Ok(lines) = bracket::definitions(query.text()) else { return };
    if !lines.iter().any(|l| l.split_once(" = ").is_some_and(|(name, _)| reads(name))) {
        return;
    }
    eprintln!("note: the NumPy below reads the program's values; compute them first:");
    bracket::helpers(&lines).iter().chain(&lines).for_each(|l| eprintln!("    {l}"));
}

/// Prints a reply in a text format.
fn print_reply(query: &bracket::Command, reply: &bracket::Reply, format: OutputFormat) {
    match reply {
        bracket::Reply::Answer(answer) => {
            say(&answer.render(format_of(format)));
            // A differential needs what its gradients need (`X⁻ᵀ · dX`: X invertible).
            if matches!(query, bracket::Command::Differential { .. }) {
                say_conditions(answer, format);
            }
        }
        bracket::Reply::Derivatives(ds) => {
            // A gradient written by a defined name (`K⁻¹(…)` for `K = XXᵀ + sI`) reads its
            // value, as a second derivative does.
            if matches!(format, OutputFormat::Numpy) {
                let names: Vec<String> =
                    ds.iter().flat_map(|(d, _)| d.answer.expr.names()).map(|n| bracket::py_name(&n)).collect();
                note_definitions(query, |defined| names.iter().any(|n| n == defined));
            }
            for (d, check) in ds {
                let text = d.answer.render(format_of(format));
                if ds.len() == 1 {
                    say(&text);
                } else {
                    say(&format!("{} = {text}", labelled(&format!("∇_{}", d.wrt), format)));
                }
                say_conditions(&d.answer, format);
                // After the answer: a check that fails or cannot be made never hides it.
                if let Some(c) = check {
                    say(&c.line("central differences"));
                }
            }
        }
        bracket::Reply::Seconds(ds) => {
            // A program's second derivatives read its defined values by name. NumPy output
            // stays one Python expression per block (the interface other tools read), and
            // says on stderr how the values it reads are computed.
            if matches!(format, OutputFormat::Numpy) {
                note_definitions(query, |_| true);
            }
            for (d, check) in ds {
                let text = d.answer.render(format_of(format));
                if ds.len() == 1 {
                    say(&text);
                } else {
                    say(&format!("{} = {text}", labelled(&d.label(), format)));
                }
                say_conditions(&d.answer, format);
                if let Some(c) = check {
                    say(&c.line("central differences of the function and of the gradient"));
                }
            }
        }
        // NumPy output of a program's tangent pass is Python: the forward and backward
        // statements it reads, then each tangent under its Python name (`dgrad_W_J`).
        bracket::Reply::Tangents { tangents, check } if matches!(format, OutputFormat::Numpy) => {
            match bracket::statements(query.text(), &[], &Default::default()) {
                Ok(lines) => bracket::helpers(&lines).iter().chain(&lines).for_each(|l| say(l)),
                Err(e) => eprint!("{}", e.render(query.text())),
            }
            for (lhs, _, a) in tangents {
                // `d` and the Python name of what it is the tangent of, as a `dX` prints.
                let of = lhs.strip_prefix('d').unwrap_or(lhs);
                say(&format!("d{} = {}", bracket::py_name(of), a.render(format_of(format))));
            }
            if let Some(c) = check {
                say(&format!("# {}", c.line("central differences of the gradient along dθ")));
            }
        }
        bracket::Reply::Tangents { tangents, check } => {
            for (lhs, _, a) in tangents {
                say(&format!("{} = {}", labelled(lhs, format), a.render(format_of(format))));
            }
            if let Some(c) = check {
                say(&c.line("central differences of the gradient along dθ"));
            }
        }
        bracket::Reply::Matrices(ds) => {
            // As for the tensor layout: the defined values a program's NumPy reads.
            if matches!(format, OutputFormat::Numpy) {
                note_definitions(query, |_| true);
            }
            for (d, check) in ds {
                let text = d.render(format_of(format));
                if ds.len() == 1 {
                    say(&text);
                } else {
                    say(&format!("{} = {text}", labelled(&d.label, format)));
                }
                say_conditions(&d.tensor, format);
                if let Some(c) = check {
                    say(&c.line("central differences, and the matrix against the tensor layout"));
                }
            }
        }
        // NumPy output of a program is Python: the helpers it calls, then its forward and
        // backward statements.
        bracket::Reply::Equations { .. } if matches!(format, OutputFormat::Numpy) => {
            match bracket::statements(query.text(), &[], &Default::default()) {
                Ok(lines) => bracket::helpers(&lines).iter().chain(&lines).for_each(|l| say(l)),
                Err(e) => eprint!("{}", e.render(query.text())),
            }
        }
        bracket::Reply::Equations { equations, loss, checks } => {
            for eq in equations {
                let label = labelled(&format!("∇_{{{}}}{loss}", eq.target), format);
                say(&format!("{label} = {}", eq.answer.render(format_of(format))));
            }
            if let Some(all) = checks.as_ref().and_then(|c| c.values().cloned().reduce(bracket::Check::worst)) {
                say(&all.line("parameters against finite differences of the program"));
            }
        }
        bracket::Reply::Derivations(ds) => {
            let text: Vec<String> = ds.iter().map(|d| d.render(format_of(format))).collect();
            say(&text.join("\n\n"));
        }
        bracket::Reply::Value(v) => {
            say(&v.value.to_string());
            let seed = match query {
                bracket::Command::Eval { seed, .. } => *seed,
                _ => 1,
            };
            if !v.random.is_empty() {
                eprintln!("random values (seed {seed}) for: {}", v.random.join(", "));
            }
            // A size nothing fixed decides the value as much as a random entry does.
            if !v.drawn.is_empty() {
                let said: Vec<String> = v
                    .drawn
                    .iter()
                    .map(|(d, n)| if d == "?" { format!("{n} (a size nothing fixes)") } else { format!("{d} = {n}") })
                    .collect();
                eprintln!(
                    "random sizes (seed {seed}): {}; fix them with values (--at) or numeric sizes (`x: vector(3)`)",
                    said.join(", ")
                );
            }
        }
    }
}

/// The conditions an answer needs, with those of the definitions it reads, as a `where`
/// line.
fn say_conditions(answer: &bracket::Answer, format: OutputFormat) {
    let needs = answer.conditions(format_of(format));
    if !needs.is_empty() {
        // NumPy output stays one Python expression: the condition is a comment.
        let lead = if matches!(format, OutputFormat::Numpy) { "# " } else { "" };
        say(&format!("{lead}where {}", needs.join(", ")));
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
fn say_notes(text: &str, wrt: &[String], scalar: bool) -> Vec<String> {
    let notes = if scalar { bracket::notes_for_scalar(text, wrt) } else { bracket::notes(text, wrt) };
    for note in &notes {
        eprintln!("note: {note}");
    }
    notes
}

/// Prints a line; a closed pipe (`| head`) is not an error.
fn say(text: &str) {
    use std::io::Write;
    if claim_output(Output::Answer) {
        let _ = writeln!(std::io::stdout().lock(), "{text}");
    }
}

/// Who prints the outcome: the worker's answer or the main thread's timeout, whichever
/// comes first, never both (an answer printed just as the time ran out was followed by
/// the timeout's error and exit 2).
#[derive(Clone, Copy, PartialEq)]
enum Output {
    Open,
    Answer,
    TimedOut,
}

static OUTPUT: std::sync::Mutex<Output> = std::sync::Mutex::new(Output::Open);

/// True if the outcome is now `who`'s to print: it was open, or already `who`'s.
fn claim_output(who: Output) -> bool {
    let mut held = OUTPUT.lock().unwrap_or_else(|e| e.into_inner());
    if *held == Output::Open {
        *held = who;
    }
    *held == who
}
