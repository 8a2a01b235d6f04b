//! Words: runs of several ASCII letters (`Wq`, `loss`, `XW`, `Ax`).
//!
//! The rule (docs/syntax.md §2): a word that is declared (`Wq: matrix`), defined
//! (`loss = …`) or named after `wrt` is one name. Any other word is read the tutorial's
//! way, one name per letter (`xᵀAx` is x, A, x), taking the longest declared or defined
//! names first (`XWq` with `Wq` declared is X Wq) and `d` before a letter as a
//! differential (`Wdx` is W dx). Every such split is reported as a note, so that `Wq`
//! never silently becomes the product W q.
//!
//! A split word keeps the precedence the letters had when they were separate tokens:
//! postfix operators bind to its last letter (`Axᵀ` is A xᵀ), a bar to its first, and a
//! product or division before it to its first (`a/Nx` is (a/N) x). The parser builds it
//! as [`NodeKind::Word`], and [`Word::finish`] turns what is left into a product.

use crate::error::Span;
use crate::ir::ast::{NameRef, Node, NodeKind};
use indexmap::IndexSet;
use std::cell::RefCell;

/// The words that are names, and the notes of the words that were split.
#[derive(Default)]
struct Reading {
    whole: IndexSet<String>,
    notes: Vec<String>,
}

thread_local! {
    /// The reading of the input being parsed on this thread (parses do not nest).
    static READING: RefCell<Reading> = RefCell::new(Reading::default());
}

/// Starts reading an input whose declared, defined and `wrt` names are `whole`.
pub(crate) fn start(whole: IndexSet<String>) {
    READING.with(|r| *r.borrow_mut() = Reading { whole, notes: Vec::new() });
}

/// Ends the reading: the notes of the words that were split, in order.
pub(crate) fn finish() -> Vec<String> {
    READING.with(|r| std::mem::take(&mut *r.borrow_mut()).notes)
}

/// Adds a note to the reading (once).
pub(crate) fn note(text: String) {
    READING.with(|r| {
        let mut r = r.borrow_mut();
        if !r.notes.contains(&text) {
            r.notes.push(text);
        }
    });
}

/// True if `name` is declared, defined or named after `wrt`.
pub(crate) fn is_whole(name: &str) -> bool {
    READING.with(|r| r.borrow().whole.contains(name))
}

/// The number of ASCII letters a name's base starts with.
fn letters(base: &str) -> usize {
    base.chars().take_while(char::is_ascii_alphabetic).count()
}

/// A name as written, or the pieces of a split word; `None` leaves the name as it is.
pub(crate) fn split(name: &NameRef, span: Span) -> Option<Vec<Node>> {
    let n = letters(&name.base);
    if n < 2 || is_whole(&name.base) || is_whole(&name.full()) {
        return None;
    }
    let base: Vec<char> = name.base.chars().collect();
    let (word, digits): (String, String) = (base[..n].iter().collect(), base[n..].iter().collect());
    // Longest whole names first, then one letter; `d` before a letter is a differential.
    let mut pieces: Vec<(String, bool)> = Vec::new();
    let mut i = 0;
    while i < n {
        let longest = (i + 2..=n).rev().find(|&j| {
            let text: String = base[i..j].iter().collect();
            is_whole(&text) || (j == n && is_whole(&format!("{text}{digits}")))
        });
        if let Some(j) = longest {
            pieces.push((base[i..j].iter().collect(), false));
            i = j;
        } else if base[i] == 'd' && i + 1 < n {
            let j = (i + 3..=n).rev().find(|&j| is_whole(&base[i + 1..j].iter().collect::<String>())).unwrap_or(i + 2);
            pieces.push((base[i + 1..j].iter().collect(), true));
            i = j;
        } else {
            pieces.push((base[i].to_string(), false));
            i += 1;
        }
    }
    if pieces.len() < 2 && !pieces.iter().any(|(_, d)| *d) {
        return None;
    }
    let mut at = span.start;
    let last = pieces.len() - 1;
    let mut nodes = Vec::new();
    let mut shown = Vec::new();
    for (k, (text, diff)) in pieces.into_iter().enumerate() {
        let width = text.len() + usize::from(diff) + usize::from(k == 0 && name.diff);
        let mut piece = NameRef { base: text, sub: None, tag: None, bar: false, diff, portion: None };
        if k == 0 && name.diff {
            piece.diff = true;
        }
        let end = if k == last {
            piece.base.push_str(&digits);
            piece.sub = name.sub.clone();
            piece.tag = name.tag;
            piece.bar = name.bar;
            piece.portion = name.portion.clone();
            span.end
        } else {
            at + width
        };
        shown.push(format!("{}{}", if piece.diff { "d" } else { "" }, piece.full()));
        nodes.push(Node::new(NodeKind::Name(piece), Span::new(at, end.max(at))));
        at += width;
    }
    let written = format!("{}{word}{digits}", if name.diff { "d" } else { "" });
    let note = format!("`{written}` is read as the product {}", shown.join(" "));
    READING.with(|r| {
        let mut r = r.borrow_mut();
        if !r.notes.contains(&note) {
            r.notes.push(note);
        }
    });
    Some(nodes)
}

/// The notes of split words, each that has a size among its letters saying so: `wd`
/// with d a size is w times the number d, which the user rarely means (a weight decay).
pub(crate) fn sizes_said(notes: Vec<String>, is_size: impl Fn(&str) -> bool) -> Vec<String> {
    notes
        .into_iter()
        .map(|note| {
            let Some((word, pieces)) = note.split_once("` is read as the product ") else { return note };
            let sizes: Vec<String> = pieces.split(' ').filter(|p| is_size(p)).map(|p| format!("`{p}`")).collect();
            if sizes.is_empty() {
                return note;
            }
            let stands = if sizes.len() == 1 { "stands for a size (a number)" } else { "stand for sizes (numbers)" };
            format!(
                "{note}, where {} {stands}; declare `{}: scalar` to keep the word whole",
                sizes.join(", "),
                word.trim_start_matches('`')
            )
        })
        .collect()
}

/// Helpers on [`NodeKind::Word`] nodes for the parser's fold.
pub(crate) struct Word;

impl Word {
    /// A word's pieces, or the node itself.
    pub(crate) fn pieces(n: Node) -> Vec<Node> {
        match n.kind {
            NodeKind::Word(items) => items,
            _ => vec![n],
        }
    }

    /// A word as the product of its pieces; any other node as it is.
    pub(crate) fn finish(n: Node) -> Node {
        match n.kind {
            NodeKind::Word(items) => Node::new(NodeKind::Juxt(items), n.span),
            _ => n,
        }
    }

    /// Applies `f` to the last piece of a word (a postfix operator), or to the node.
    pub(crate) fn on_last(n: Node, f: impl FnOnce(Node) -> Node) -> Node {
        match n.kind {
            NodeKind::Word(mut items) => {
                let last = items.pop().expect("a word has pieces");
                items.push(f(last));
                let span = items.iter().fold(items[0].span, |s, i| s.join(i.span));
                Node::new(NodeKind::Word(items), span)
            }
            _ => f(n),
        }
    }

    /// Applies `f` to the first piece of a word (a bar, or a product before the word).
    pub(crate) fn on_first(n: Node, f: impl FnOnce(Node) -> Node) -> Node {
        match n.kind {
            NodeKind::Word(mut items) => {
                let first = items.remove(0);
                items.insert(0, f(first));
                let span = items.iter().fold(items[0].span, |s, i| s.join(i.span));
                Node::new(NodeKind::Word(items), span)
            }
            _ => f(n),
        }
    }
}

/// ASCII Greek words and their letters; names are kept as letters.
pub const GREEK: [(&str, &str); 34] = [
    ("alpha", "α"),
    ("beta", "β"),
    ("gamma", "γ"),
    ("delta", "δ"),
    ("epsilon", "ε"),
    ("zeta", "ζ"),
    ("eta", "η"),
    ("theta", "θ"),
    ("kappa", "κ"),
    ("lambda", "λ"),
    ("mu", "μ"),
    ("nu", "ν"),
    ("xi", "ξ"),
    ("rho", "ρ"),
    ("sigma", "σ"),
    ("tau", "τ"),
    ("phi", "φ"),
    ("chi", "χ"),
    ("psi", "ψ"),
    ("omega", "ω"),
    ("omicron", "ο"),
    ("pi", "π"),
    ("upsilon", "υ"),
    ("Gamma", "Γ"),
    ("Delta", "Δ"),
    ("Theta", "Θ"),
    ("Lambda", "Λ"),
    ("Xi", "Ξ"),
    ("Pi", "Π"),
    ("Sigma", "Σ"),
    ("Upsilon", "Υ"),
    ("Phi", "Φ"),
    ("Psi", "Ψ"),
    ("Omega", "Ω"),
];

/// The Greek letter an ASCII word names (`beta` is β), if it names one.
pub fn greek_letter(word: &str) -> Option<&'static str> {
    GREEK.iter().find(|(w, _)| *w == word).map(|(_, l)| *l)
}

/// The ASCII word a Greek letter is typed as (β is `beta`), if `c` is one.
pub fn greek_word(c: char) -> Option<&'static str> {
    GREEK.iter().find(|(_, l)| l.chars().eq(std::iter::once(c))).map(|(w, _)| *w)
}
