//! Batch mode: one JSON query per input line, one JSON answer per output line, with the
//! in-process time of each. A bad line gives an `"error"` object and the batch goes on.
//!
//! A query: `{"command": "grad", "expr": "x^T A x", "wrt": ["x"], "check": false}`;
//! commands are `simplify`, `grad`, `jacobian`, `d`, `derive`, `backprop` and `eval` (with
//! `"at": {"x": [1, 2]}` and `"seed"`).
//!
//! With a time limit ([`run_batch_within`], the CLI's `--timeout`), each query has it to
//! itself, or less where it asks (`"timeout": 0.5`, in seconds): a query that does not
//! answer within it gets an `E-limit` error line, and the batch goes on.

use crate::api::command::Command;
use crate::error::{line_col, Error, ErrorCode};
use serde_json::{json, Value};
use std::io::{BufRead, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Adds `"notes"`: how the input was read where that may not be what was meant (see
/// [`crate::api::notes`]), when there are any.
pub fn add_notes(v: &mut Value, text: &str, wrt: &[String]) {
    let notes = crate::api::notes(text, wrt);
    if !notes.is_empty() && v.get("notes").is_none() {
        v["notes"] = json!(notes);
    }
}

/// An error as JSON: code, message, 1-based line and column (when about the input), hint.
pub fn error_json(e: &Error, source: &str) -> Value {
    let mut v = json!({"code": e.code.as_str(), "message": e.message});
    if let Some(span) = e.span {
        let (line, column) = line_col(source, span.start);
        v["line"] = json!(line);
        v["column"] = json!(column);
    }
    if let Some(h) = &e.hint {
        v["hint"] = json!(h);
    }
    v
}

fn usage(message: String) -> Error {
    Error::bare(ErrorCode::Usage, message)
}

/// Answers one query line.
pub fn batch_line(line: &str) -> Value {
    let start = Instant::now();
    let query: Value = match serde_json::from_str(line) {
        Ok(q) => q,
        Err(e) => return json!({"error": error_json(&usage(format!("not a JSON object: {e}")), "")}),
    };
    let expr = query.get("expr").and_then(Value::as_str).unwrap_or("").to_string();
    let options = match query.get("sizes") {
        None => Ok(crate::egraph::Options::default()),
        Some(Value::String(t)) => crate::api::command::read_sizes(t)
            .map(|sizes| crate::egraph::Options { sizes: Some(sizes), ..Default::default() }),
        Some(_) => Err(usage("\"sizes\" must be a string such as \"n=1000,m=10\"".to_string())),
    };
    let result = options.and_then(|options| Command::from_json(&query).and_then(|c| Ok((c.run(&options)?, c.wrt()))));
    // The CLI's flags are the line's keys: `--wrt x` is `"wrt": ["x"]`.
    let result = result.map_err(|mut e| {
        let flags = |t: &str| t.contains("--wrt") || t.contains("--dir");
        if e.code == ErrorCode::Usage && (flags(&e.message) || e.hint.as_deref().is_some_and(flags)) {
            e.message = e.message.replace("--wrt", "\"wrt\"").replace("--dir", "\"dir\"");
            let command = query.get("command").and_then(Value::as_str).unwrap_or("grad");
            let dir = if command == "hvp" { ", \"dir\": \"V\"" } else { "" };
            e.hint = Some(format!(
                "in a batch line the variables are a key: {{\"command\": \"{command}\", \"expr\": \"…\", \"wrt\": [\"x\"]{dir}}}"
            ));
        }
        e
    });
    // A misspelt key (`"wtr"`) is read as a missing one: an error then names it, before
    // its hint.
    let result = result.map_err(|e| match unknown_keys(&query) {
        Some(unknown) if e.code == ErrorCode::Usage => {
            let hint = format!("{unknown}; the keys are {}", KEYS.join(", "));
            let hint = match &e.hint {
                Some(h) => format!("{hint}. {h}"),
                None => hint,
            };
            e.hint(hint)
        }
        _ => e,
    });
    let elapsed = start.elapsed().as_micros() as u64;
    match result {
        Ok((reply, wrt)) => {
            let mut v = reply.json(&expr, &wrt);
            // A misspelt key (`"chek": true`) is passed over, and said so: a client's own
            // keys (`"id"`) are allowed.
            if let Some(unknown) = unknown_keys(&query) {
                let note = format!("{unknown} passed over; the keys are {}", KEYS.join(", "));
                match v.get_mut("notes").and_then(Value::as_array_mut) {
                    Some(notes) => notes.push(json!(note)),
                    None => v["notes"] = json!([note]),
                }
            }
            v["elapsed_us"] = json!(elapsed);
            v
        }
        Err(e) => json!({"error": error_json(&e, &expr), "elapsed_us": elapsed}),
    }
}

/// The keys a query may have (serve's `"target"` for codegen among them).
const KEYS: [&str; 13] =
    ["command", "expr", "wrt", "dir", "check", "layout", "order", "raw", "at", "seed", "timeout", "target", "sizes"];

/// The keys of `query` that no command reads, said: `` unknown keys `a`, `b` ``; None
/// where there are none.
fn unknown_keys(query: &Value) -> Option<String> {
    let unknown: Vec<String> = query.as_object().map_or_else(Vec::new, |m| {
        m.keys().filter(|k| !KEYS.contains(&k.as_str())).map(|k| format!("`{k}`")).collect()
    });
    let plural = if unknown.len() > 1 { "s" } else { "" };
    (!unknown.is_empty()).then(|| format!("unknown key{plural} {}", unknown.join(", ")))
}

/// Runs a batch: every non-empty input line is a query; every answer is one line, in
/// the order of the queries, answered in turn.
pub fn run_batch(input: impl BufRead, output: impl Write) -> std::io::Result<()> {
    answer_in_turn(input, output, None)
}

/// As [`run_batch_on`], each query answered within `limit` (or the less it asks for),
/// else with an `E-limit` error line.
pub fn run_batch_within(
    input: impl BufRead + Send,
    output: impl Write,
    threads: usize,
    limit: Option<Duration>,
) -> std::io::Result<()> {
    let threads = threads.clamp(1, crate::limits::MAX_BATCH_THREADS);
    if threads > 1 {
        return run_batch_threads(input, output, threads, limit);
    }
    answer_in_turn(input, output, limit)
}

fn answer_in_turn(input: impl BufRead, mut output: impl Write, limit: Option<Duration>) -> std::io::Result<()> {
    let mut answerer = Answerer::new(limit);
    for line in input.lines() {
        let line = line?;
        if !line.trim().is_empty() {
            writeln!(output, "{}", answerer.answer(&line))?;
        }
    }
    Ok(())
}

/// How many queries that ran out of time may still be computing (their threads are
/// left to finish): past this many, the next query waits for the oldest.
const MAX_OVERDUE: usize = 4;

/// Answers queries within a time limit: each on a worker thread that the caller waits
/// for up to the limit. A worker that overruns is left to finish on its own (its answer
/// is dropped) and a new one takes its place.
struct Answerer {
    limit: Option<Duration>,
    worker: Option<Worker>,
    /// Workers left computing an overdue query, oldest first.
    overdue: std::collections::VecDeque<Worker>,
}

struct Worker {
    jobs: mpsc::Sender<String>,
    answers: mpsc::Receiver<Value>,
}

impl Worker {
    fn start() -> Option<Worker> {
        let (jobs, queue) = mpsc::channel::<String>();
        let (done, answers) = mpsc::channel();
        let spawned = std::thread::Builder::new().stack_size(crate::limits::WORKER_STACK).spawn(move || {
            for line in queue {
                if done.send(answer_line(&line)).is_err() {
                    break;
                }
            }
        });
        spawned.ok().map(|_| Worker { jobs, answers })
    }
}

impl Answerer {
    fn new(limit: Option<Duration>) -> Answerer {
        Answerer { limit, worker: None, overdue: Default::default() }
    }

    fn answer(&mut self, line: &str) -> Value {
        // A byte-order mark some editors write at the start is not part of the query.
        let line = line.strip_prefix('\u{feff}').unwrap_or(line);
        let Some(limit) = self.limit else { return answer_line(line) };
        let query = serde_json::from_str::<Value>(line).ok();
        let asked =
            query.as_ref().and_then(|q| q.get("timeout").and_then(Value::as_f64)).filter(|t| t.is_finite() && *t > 0.0);
        let limit = asked.map_or(limit, |t| Duration::from_secs_f64(t.min(86_400.0)).min(limit));
        // Overdue workers that have finished are gone; too many still running, and this
        // query waits for the oldest.
        self.overdue.retain(|w| matches!(w.answers.try_recv(), Err(mpsc::TryRecvError::Empty)));
        if self.overdue.len() >= MAX_OVERDUE {
            if let Some(oldest) = self.overdue.pop_front() {
                let _ = oldest.answers.recv();
            }
        }
        if self.worker.is_none() {
            self.worker = Worker::start();
        }
        let Some(worker) = &self.worker else { return answer_line(line) };
        let start = Instant::now();
        if worker.jobs.send(line.to_string()).is_err() {
            self.worker = None;
            return answer_line(line);
        }
        match worker.answers.recv_timeout(limit) {
            Ok(v) => v,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                self.overdue.extend(self.worker.take());
                let e = Error::bare(ErrorCode::Limit, format!("no answer within {} s", limit.as_secs_f64()))
                    .hint("raise --timeout (or the query's \"timeout\"), or split the input");
                let expr = query.as_ref().and_then(|q| q.get("expr").and_then(Value::as_str)).unwrap_or_default();
                json!({"error": error_json(&e, expr), "elapsed_us": start.elapsed().as_micros() as u64})
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                self.worker = None;
                let e = Error::bare(ErrorCode::Limit, "the query failed (please report the input)".to_string());
                json!({"error": error_json(&e, "")})
            }
        }
    }
}

/// The answer to one input line.
fn answer_line(line: &str) -> Value {
    if line.len() > crate::limits::MAX_INPUT_BYTES {
        json!({"error": error_json(&usage("the line is longer than the input limit".into()), "")})
    } else {
        batch_line(line)
    }
}

/// As [`run_batch`], on `threads` threads: a reader takes the queries in, each thread
/// answers the next one, and the answers are written in the order of the queries as soon
/// as those before them are (so a client that waits for each answer gets it).
pub fn run_batch_on(input: impl BufRead + Send, output: impl Write, threads: usize) -> std::io::Result<()> {
    run_batch_within(input, output, threads, None)
}

fn run_batch_threads(
    input: impl BufRead + Send,
    mut output: impl Write,
    threads: usize,
    limit: Option<Duration>,
) -> std::io::Result<()> {
    use std::sync::{Arc, Mutex};
    // A bounded queue of queries (memory stays bounded), and answers keyed by position.
    let (jobs, queue) = mpsc::sync_channel::<(usize, String)>(2 * threads);
    let queue = Arc::new(Mutex::new(queue));
    let (done, answers) = mpsc::channel::<(usize, Value)>();
    std::thread::scope(|scope| -> std::io::Result<()> {
        for started in 0..threads {
            let (queue, done) = (Arc::clone(&queue), done.clone());
            let spawned =
                std::thread::Builder::new().stack_size(crate::limits::WORKER_STACK).spawn_scoped(scope, move || {
                    let mut answerer = Answerer::new(limit);
                    loop {
                        let job = queue.lock().unwrap_or_else(|p| p.into_inner()).recv();
                        let Ok((k, line)) = job else { break };
                        if done.send((k, answerer.answer(&line))).is_err() {
                            break;
                        }
                    }
                });
            // Fewer threads than asked where the system has no room for more (each has
            // the CLI's stack); none at all is an error, never a silent empty batch.
            match spawned {
                Ok(_) => {}
                Err(_) if started > 0 => break,
                Err(e) => return Err(e),
            }
        }
        drop(done);
        let reader = scope.spawn(move || -> std::io::Result<()> {
            let mut sent = 0;
            let mut input = input;
            let mut bytes = Vec::new();
            loop {
                bytes.clear();
                if input.read_until(b'\n', &mut bytes)? == 0 {
                    break;
                }
                // A line that is not UTF-8 is answered (its bad bytes read as �, where the
                // error then points), not the end of the batch.
                let line = String::from_utf8_lossy(&bytes);
                let line = line.trim_end_matches(['\n', '\r']).to_string();
                if line.trim().is_empty() {
                    continue;
                }
                if jobs.send((sent, line)).is_err() {
                    break;
                }
                sent += 1;
            }
            Ok(())
        });
        let mut pending: std::collections::BTreeMap<usize, Value> = std::collections::BTreeMap::new();
        let mut next = 0;
        for (k, v) in answers.iter() {
            pending.insert(k, v);
            while let Some(v) = pending.remove(&next) {
                // A closed output ends the batch: the answers receiver goes, and with it
                // the workers and the reader.
                writeln!(output, "{v}")?;
                next += 1;
            }
        }
        reader.join().unwrap_or(Ok(()))
    })
}
