//! `bracket serve`: a local web server for one page (web/) and a JSON API that mirrors
//! `bracket batch`.
//!
//! - `GET /`: the page; `GET /katex/…`: the copy of KaTeX it renders with (no CDN);
//! - `GET /api/examples`: the worked examples, each as the page's input;
//! - `POST /api/query`: one batch query object, answered as `bracket batch` would, plus
//!   `{"command": "codegen", "expr", "wrt", "target"}` for the generated module.
//!
//! Limits: a body over [`MAX_BODY`] gets 413, malformed JSON 400, a bad query 400 (usage)
//! or 422 (the input), a query past its time 504, and a query beyond [`Server::slots`]
//! running at once 503 with `Retry-After`. Each query runs in a process of its own (this
//! binary's hidden `serve-query`): a query past its time is killed and its slot freed at
//! once, and one that runs out of memory takes only itself down (a worker thread could be
//! neither stopped nor contained: two slow queries held their slots for ten minutes, and
//! then the whole server died of memory). The process costs about 10 ms a query. No
//! request reads or writes files or runs any other program.

mod assets;
mod examples;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// The largest request body: the input limit and room for the query's other fields.
pub const MAX_BODY: usize = bracket::MAX_INPUT_BYTES + 4096;

/// How the server runs.
#[derive(Clone, Debug)]
pub struct Server {
    /// Address to bind (loopback by default).
    pub host: String,
    /// Port (0: any free port).
    pub port: u16,
    /// The longest a query may run.
    pub timeout: Duration,
    /// Queries answered at once; more get 503.
    pub slots: usize,
}

struct Shared {
    /// This binary, run as `serve-query` for each query.
    exe: std::path::PathBuf,
    slots: Arc<Semaphore>,
    timeout: Duration,
    examples: Value,
}

/// Runs the server until Ctrl-C (or SIGTERM), then finishes the requests in flight.
pub fn serve(server: Server) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(run(server))
}

async fn run(server: Server) -> std::io::Result<()> {
    let shared = Arc::new(Shared {
        exe: std::env::current_exe()?,
        slots: Arc::new(Semaphore::new(server.slots.max(1))),
        timeout: server.timeout,
        examples: examples_json(),
    });
    let mut app = Router::new()
        .route("/api/query", post(query))
        .route("/api/examples", get(list_examples))
        .layer(DefaultBodyLimit::max(MAX_BODY));
    for (path, kind, bytes) in assets::ASSETS {
        app = app.route(path, get(move || async move { asset(kind, bytes) }));
    }
    let app = app.fallback(not_found).with_state(shared);
    let listener = tokio::net::TcpListener::bind((server.host.as_str(), server.port)).await?;
    let address = listener.local_addr()?;
    let host = if address.is_ipv6() { format!("[{}]", address.ip()) } else { address.ip().to_string() };
    println!("bracket serve: http://{host}:{}/ (Ctrl-C stops)", address.port());
    use std::io::Write;
    let _ = std::io::stdout().flush();
    axum::serve(listener, app).with_graceful_shutdown(stopped()).await
}

/// Ctrl-C, or SIGTERM where there are signals.
async fn stopped() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
    eprintln!("bracket serve: stopping");
}

fn asset(kind: &'static str, bytes: &'static [u8]) -> Response {
    let mut r = bytes.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": {"code": code, "message": message.into()}}))).into_response()
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "E-usage", "no such page; the API is POST /api/query and GET /api/examples")
}

async fn list_examples(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.examples.clone()).into_response()
}

/// The HTTP status of an answer: 200, or what its error says.
fn status_of(answer: &Value) -> StatusCode {
    match answer.pointer("/error/code").and_then(Value::as_str) {
        None => StatusCode::OK,
        Some("E-usage") => StatusCode::BAD_REQUEST,
        Some(_) => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

async fn query(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let too_large =
        || error(StatusCode::PAYLOAD_TOO_LARGE, "E-limit", format!("the body is over the limit of {MAX_BODY} bytes"));
    // A length declared over the limit is refused before the body is read: a client that
    // declares 10 GB and sends nothing more gets its 413 at once.
    let declared =
        request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return too_large();
    }
    let body = match Bytes::from_request(request, &()).await {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return too_large(),
        Err(e) => return error(e.status(), "E-usage", e.body_text()),
    };
    let Ok(text) = std::str::from_utf8(&body) else {
        return error(StatusCode::BAD_REQUEST, "E-usage", "the body is not UTF-8");
    };
    let parsed: Value = match serde_json::from_str(text) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => return error(StatusCode::BAD_REQUEST, "E-usage", "the body must be one JSON object"),
        Err(e) => return error(StatusCode::BAD_REQUEST, "E-usage", format!("malformed JSON: {e}")),
    };
    let Ok(permit) = Arc::clone(&shared.slots).try_acquire_owned() else {
        let mut r = error(StatusCode::SERVICE_UNAVAILABLE, "E-limit", "busy: every slot is answering a query");
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return r;
    };
    // A query may ask for less time than the server allows, never more.
    let asked = parsed.get("timeout").and_then(Value::as_f64).filter(|t| t.is_finite() && *t > 0.0);
    let limit = asked.map_or(shared.timeout, |t| Duration::from_secs_f64(t).min(shared.timeout));
    let child = tokio::process::Command::new(&shared.exe)
        .arg("serve-query")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn();
    let Ok(mut child) = child else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "E-limit", "cannot start a worker process");
    };
    let work = async move {
        use tokio::io::AsyncWriteExt;
        let mut stdin = child.stdin.take().expect("stdin is piped");
        stdin.write_all(parsed.to_string().as_bytes()).await?;
        drop(stdin);
        child.wait_with_output().await
    };
    // Past the limit the work is dropped, and with it the child (killed on drop).
    let done = tokio::time::timeout(limit, work).await;
    drop(permit);
    match done {
        Ok(Ok(out)) if out.status.success() => match serde_json::from_slice::<Value>(&out.stdout) {
            Ok(answer) => (status_of(&answer), Json(answer)).into_response(),
            Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "E-internal", "the query failed (please report it)"),
        },
        Ok(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "E-internal",
            "the query's process failed (out of memory, or please report it)",
        ),
        Err(_) => error(
            StatusCode::GATEWAY_TIMEOUT,
            "E-limit",
            format!("no answer within {} s; split the input", limit.as_secs_f64()),
        ),
    }
}

/// `serve-query`: one query object read from standard input, its answer written to
/// standard output as one JSON line (on a thread with the CLI's stack).
pub fn answer_stdin() -> std::process::ExitCode {
    let mut text = String::new();
    let limit = MAX_BODY as u64 + 1;
    if std::io::Read::read_to_string(&mut std::io::Read::take(std::io::stdin(), limit), &mut text).is_err() {
        return std::process::ExitCode::from(2);
    }
    let Ok(query) = serde_json::from_str::<Value>(&text) else { return std::process::ExitCode::from(2) };
    let worker = std::thread::Builder::new().stack_size(bracket::limits::WORKER_STACK).spawn(move || answer(&query));
    match worker.map(|w| w.join()) {
        Ok(Ok(answer)) => {
            println!("{answer}");
            std::process::ExitCode::SUCCESS
        }
        _ => std::process::ExitCode::from(1),
    }
}

/// The answer to one query: a batch query, or `codegen`.
fn answer(query: &Value) -> Value {
    let start = std::time::Instant::now();
    if query.get("command").and_then(Value::as_str) != Some("codegen") {
        return bracket::batch_line(&query.to_string());
    }
    let expr = query.get("expr").and_then(Value::as_str).unwrap_or_default();
    let wrt: Vec<String> = match query.get("wrt") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items.iter().filter_map(|i| i.as_str().map(str::to_string)).collect(),
        _ => vec![],
    };
    let target = match query.get("target").and_then(Value::as_str) {
        None | Some("numpy") => bracket::Target::Numpy,
        Some("jax") => bracket::Target::Jax,
        Some(other) => {
            let e = bracket::Error::bare(bracket::ErrorCode::Usage, format!("unknown target `{other}`"));
            return json!({"error": bracket::error_json(&e, "")});
        }
    };
    let options = bracket::CodegenOptions { target, solve: true, with_check: false };
    let elapsed = |v: Value| {
        let mut v = v;
        v["elapsed_us"] = json!(start.elapsed().as_micros() as u64);
        v
    };
    match bracket::codegen(expr, &wrt, &options) {
        Ok(source) => elapsed(json!({ "source": source })),
        Err(e) => elapsed(json!({"error": bracket::error_json(&e, expr)})),
    }
}

/// The worked examples as the page's inputs: `{name, title, command, wrt, input}`.
fn examples_json() -> Value {
    Value::Array(examples::EXAMPLES.iter().map(|(name, text)| example_json(name, text)).collect())
}

fn example_json(name: &str, text: &str) -> Value {
    let comments: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix('#')).map(str::trim).collect();
    let title = comments.iter().find(|c| !c.starts_with("command:")).copied().unwrap_or(name);
    let body: Vec<&str> = text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()).collect();
    let whole = body.join("\n");
    let out = |command: &str, wrt: Vec<String>, input: String| json!({"name": name, "title": title, "command": command, "wrt": wrt, "input": input});
    // examples/second: the `# command:` line says what to run.
    if let Some(command) = comments.iter().find_map(|c| c.strip_prefix("command:")) {
        let words: Vec<&str> = command.split_whitespace().collect();
        let wrt = words.windows(2).filter(|w| w[0] == "--wrt").map(|w| w[1].to_string()).collect();
        let mut v = out(words.first().copied().unwrap_or("grad"), wrt, whole);
        if let Some(w) = words.windows(2).find(|w| w[0] == "--dir") {
            v["dir"] = json!(w[1]);
        }
        if let Some(w) = words.windows(2).find(|w| w[0] == "--layout") {
            v["layout"] = json!(w[1]);
        }
        return v;
    }
    let query = |line: &str| -> Option<(String, Vec<String>)> {
        let rest = line.strip_prefix("grad ")?;
        let (expr, wrt) = rest.rsplit_once(" wrt ")?;
        Some((expr.trim().to_string(), wrt.split(',').map(|w| w.trim().to_string()).collect()))
    };
    let queries: Vec<(String, Vec<String>)> = body.iter().filter_map(|l| query(l)).collect();
    let prelude: Vec<&str> = body.iter().copied().filter(|l| query(l).is_none()).collect();
    let Some((expr, wrt)) = queries.first().cloned() else {
        // A notation example: its declarations and first expression.
        let declaration = |l: &str| l.split_once(':').is_some_and(|(names, _)| !names.contains(['(', '[', '=']));
        let decls: Vec<&str> = prelude.iter().copied().filter(|l| declaration(l)).collect();
        let first = prelude.iter().copied().find(|l| !declaration(l)).unwrap_or_default();
        let mut input = decls.join("\n");
        if !input.is_empty() {
            input.push('\n');
        }
        input.push_str(first);
        return out("simplify", vec![], input);
    };
    // A query on a defined name is a program: its backpropagation equations.
    let defined = |name: &str| prelude.iter().any(|l| l.split_once('=').is_some_and(|(lhs, _)| lhs.trim() == name));
    if queries.iter().all(|(e, _)| defined(e)) {
        return out("grad", vec![], whole);
    }
    let mut input = prelude.join("\n");
    if !input.is_empty() {
        input.push('\n');
    }
    input.push_str(&expr);
    let scalar = bracket::read(&input).ok().and_then(|m| m.main_expr().map(|e| e.shape.is_empty())).unwrap_or(true);
    out(if scalar { "grad" } else { "jacobian" }, wrt, input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_example_file_is_compiled_in() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        let mut on_disk = Vec::new();
        for section in std::fs::read_dir(&root).unwrap() {
            let section = section.unwrap().path();
            for f in std::fs::read_dir(&section).unwrap() {
                let f = f.unwrap().path();
                if f.extension().is_some_and(|x| x == "txt") {
                    let rel = f.strip_prefix(&root).unwrap().with_extension("");
                    on_disk.push(rel.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        on_disk.sort();
        let listed: Vec<String> = examples::EXAMPLES.iter().map(|(n, _)| n.to_string()).collect();
        assert_eq!(listed, on_disk, "src/serve/examples.rs must list every file of examples/");
    }

    #[test]
    fn every_katex_font_is_served() {
        let fonts = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web/katex/fonts");
        let n = std::fs::read_dir(fonts).unwrap().count();
        assert_eq!(assets::ASSETS.iter().filter(|(p, _, _)| p.starts_with("/katex/fonts/")).count(), n);
    }

    #[test]
    fn examples_read_as_the_page_runs_them() {
        let all = examples_json();
        let find = |name: &str| all.as_array().unwrap().iter().find(|e| e["name"] == name).unwrap().clone();
        let quadratic = find("derivatives/5_2_quadratic");
        assert_eq!((quadratic["command"].as_str(), quadratic["input"].as_str()), (Some("grad"), Some("x^T A x")));
        assert_eq!(quadratic["wrt"], json!(["x"]));
        assert_eq!(find("derivatives/4_3_5_softmax")["command"], "jacobian");
        let mlp = find("programs/6_2_two_layer_mlp");
        assert_eq!((mlp["command"].as_str(), mlp["wrt"].clone()), (Some("grad"), json!([])));
        assert_eq!(find("second/06_mixed_blocks")["wrt"], json!(["w", "X"]));
        assert_eq!(find("notation/02_transpose")["input"], "A: matrix\nAᵀ");
        // Every example answers without an error.
        for e in all.as_array().unwrap() {
            let mut q = json!({"command": e["command"], "expr": e["input"], "wrt": e["wrt"]});
            for key in ["dir", "layout"] {
                if let Some(v) = e.get(key) {
                    q[key] = v.clone();
                }
            }
            let a = answer(&q);
            assert!(a.get("error").is_none(), "{}: {a}", e["name"]);
        }
    }
}
