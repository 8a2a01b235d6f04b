//! Bracket notation out: a typed expression or a tensor network written as the
//! tutorial's bracket terms (`A_1[Ā_2 B_1]B_2`, occurrence tags where the order leaves
//! them ambiguous), and NumPy's einsum specifications.

use super::{needs_space, Format, Printer};
use crate::ir::expr::*;
use crate::ir::shape::Dim;
use crate::network::lower;
use indexmap::{IndexMap, IndexSet};
use num_traits::{One, Signed};

/// An einsum specification for a network: letters in order of first use.
pub fn einsum_spec(net: &Network, skip_iota: bool) -> String {
    const LETTERS: &str = "ijklmnopqrstuvwxyzabcdefghIJKLMNOPQRSTUVWXYZABCDEFGH";
    let letters: Vec<char> = LETTERS.chars().collect();
    let mut names: IndexMap<usize, char> = IndexMap::new();
    let mut letter = |i: usize| {
        let n = names.len();
        *names.entry(i).or_insert_with(|| letters.get(n).copied().unwrap_or('?'))
    };
    let keep = |i: usize| !(skip_iota && net.indices[i] == Dim::Iota);
    let inputs: Vec<String> =
        net.factors.iter().map(|f| f.slots.iter().filter(|&&s| keep(s)).map(|&s| letter(s)).collect()).collect();
    let output: String = net.output.iter().filter(|&&o| keep(o)).map(|&o| letter(o)).collect();
    format!("{}->{output}", inputs.join(","))
}

/// Writes a whole expression in bracket notation: `Σ coefficient · bracket term`.
pub fn to_bracket(e: &Expr, style: Format) -> String {
    let terms = lower(e);
    let printer = Printer::new(style);
    let minus = if style == Format::Unicode { "−" } else { "-" };
    let mut out = String::new();
    for (k, t) in terms.iter().enumerate() {
        let negative = t.coef.is_negative();
        let c = t.coef.abs();
        let body = if t.net.factors.is_empty() && t.net.indices.is_empty() {
            None
        } else {
            match render_network(&t.net, style, false) {
                Some(text) => Some(text),
                // Only ones in this term, or a size the text cannot carry: stay classic.
                None => return printer.top(e),
            }
        };
        let coef = match (&body, c.is_one()) {
            (Some(_), true) => String::new(),
            _ if c.is_integer() => c.to_string(),
            _ if style == Format::Latex => format!("\\frac{{{}}}{{{}}}", c.numer(), c.denom()),
            _ => format!("({}/{})", c.numer(), c.denom()),
        };
        let text = match body {
            Some(b) if coef.is_empty() => b,
            Some(b) => join(style, &coef, &b),
            None => coef,
        };
        match (k, negative) {
            (0, false) => out.push_str(&text),
            (0, true) => out.push_str(&format!("{minus}{text}")),
            (_, false) => out.push_str(&format!(" + {text}")),
            (_, true) => out.push_str(&format!(" {minus} {text}")),
        }
    }
    if out.is_empty() {
        out.push('0');
    }
    out
}

fn join(style: Format, a: &str, b: &str) -> String {
    if a.is_empty() {
        return b.to_string();
    }
    match style {
        Format::Unicode if !needs_space(a, b) => format!("{a}{b}"),
        _ => format!("{a} {b}"),
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Item {
    /// A portion of factor `f` at 1-based positions.
    Portion { f: usize, positions: Vec<usize>, bar: bool },
    /// `[…]` with members (factor, positions); the bar goes on member `bar_on`.
    Square { members: Vec<(usize, Vec<usize>)>, bar: Option<usize> },
    /// `ι`.
    Iota,
    /// A `1` that stands alone (summed: `1̄`).
    One { bar: bool },
}

impl Item {
    fn factors(&self) -> Vec<usize> {
        match self {
            Item::Portion { f, .. } => vec![*f],
            Item::Square { members, .. } => members.iter().map(|(f, _)| *f).collect(),
            _ => vec![],
        }
    }
}

/// Writes a network as a bracket term. With `require_marker`, returns `None` when the
/// term would have no square bracket, bar or `ι` (it would then read as classic
/// notation); without it, such a term gets occurrence tags instead.
pub fn render_network(net: &Network, style: Format, require_marker: bool) -> Option<String> {
    render_network_checked(net, style, require_marker, true)
}

/// As [`render_network`]; with `keep_sizes`, returns `None` when a summed dim is touched
/// only by `1` or `I`, whose size the text would not carry.
pub(crate) fn render_network_checked(
    net: &Network,
    style: Format,
    require_marker: bool,
    keep_sizes: bool,
) -> Option<String> {
    let n_idx = net.indices.len();
    let mut touches: Vec<Vec<(usize, usize)>> = vec![vec![]; n_idx];
    for (f, factor) in net.factors.iter().enumerate() {
        for (s, &i) in factor.slots.iter().enumerate() {
            touches[i].push((f, s + 1));
        }
    }
    let is_ones = |f: usize| matches!(net.factors[f].expr.kind, Kind::Ones);
    let is_diff = |f: usize| matches!(net.factors[f].expr.kind, Kind::Diff(_));
    let free: IndexSet<usize> = net.output.iter().copied().collect();
    let item_of = |i: usize| -> Item {
        let summed = !free.contains(&i);
        let t = &touches[i];
        match t.len() {
            0 if net.indices[i] == Dim::Iota && !summed => Item::Iota,
            0 => Item::One { bar: summed },
            1 if is_ones(t[0].0) => Item::One { bar: summed },
            1 => Item::Portion { f: t[0].0, positions: vec![t[0].1], bar: summed },
            _ => {
                let members: Vec<(usize, Vec<usize>)> = t.iter().map(|&(f, s)| (f, vec![s])).collect();
                let bar = summed.then(|| members.iter().position(|(f, _)| is_diff(*f)).unwrap_or(0));
                Item::Square { members, bar }
            }
        }
    };
    let mut seq: Vec<Item> = net.output.iter().map(|&i| item_of(i)).collect();
    let mut summed: Vec<(usize, usize, Item)> = (0..n_idx)
        .filter(|i| !free.contains(i))
        .map(|i| {
            let key_f = touches[i].iter().map(|t| t.0).min().unwrap_or(usize::MAX);
            let key_s = touches[i].iter().map(|t| t.1).min().unwrap_or(0);
            (key_f, key_s, item_of(i))
        })
        .collect();
    summed.sort_by_key(|(f, s, _)| (*f, *s));
    for (_, _, item) in summed {
        let fs = item.factors();
        let at = seq.iter().position(|x| x.factors().iter().any(|f| fs.contains(f)));
        match at {
            Some(p) => seq.insert(p + 1, item),
            None => seq.push(item),
        }
    }
    // A summed dim that no tensor but `1` touches would lose its size in the text.
    let sizeless = |f: usize| matches!(net.factors[f].expr.kind, Kind::Ones | Kind::Identity);
    let lost_size = (0..n_idx)
        .any(|i| !free.contains(&i) && net.indices[i] != Dim::Iota && touches[i].iter().all(|&(f, _)| sizeless(f)));
    if lost_size && keep_sizes {
        return None;
    }
    let seq = merge_items(seq, net);
    let has_marker =
        seq.iter().any(|x| {
            matches!(x, Item::Square { .. } | Item::Iota | Item::One { bar: true } | Item::Portion { bar: true, .. })
        }) || net.factors.iter().any(|f| !simple_name(&f.expr) && f.expr.order() > 0 && f.expr.kind != Kind::Ones);
    // A single whole tensor reads the same in both notations.
    let lone_whole = matches!(seq.as_slice(), [Item::Portion { f, positions, bar: false }]
        if positions.iter().enumerate().all(|(k, &p)| p == k + 1) && positions.len() == net.factors[*f].expr.order());
    let has_marker = has_marker || lone_whole;
    if !has_marker && require_marker {
        return None;
    }
    let keys: Vec<String> = net.factors.iter().map(|f| factor_key(&f.expr, style)).collect();
    let mut tagged = ambiguous_keys(&seq, net, &keys);
    if !has_marker && tagged.is_empty() {
        // One tagged name is enough to make the term read as bracket notation.
        let mut counts: IndexMap<&str, usize> = IndexMap::new();
        for item in &seq {
            for f in item.factors() {
                *counts.entry(keys[f].as_str()).or_insert(0) += 1;
            }
        }
        let fewest = counts.iter().min_by_key(|(_, n)| **n).map(|(k, _)| k.to_string());
        match fewest {
            Some(k) => {
                tagged.insert(k);
            }
            None => return None,
        }
    }
    let rank = occurrence_ranks(net, &keys);
    let printer = Printer::new(style);
    let mut parts: Vec<String> = Vec::new();
    for f in net.factors.iter().filter(|f| f.expr.order() == 0) {
        // A scalar named like a portion (`λ_1`) is embedded so that it stays a name.
        let text = printer.at(&f.expr, crate::render::POST);
        let digit_named = matches!(&f.expr.kind, Kind::Var(n) if digit_subscripted(n));
        parts.push(if digit_named { format!("{{{text}}}") } else { text });
    }
    let tag = |f: usize| tagged.contains(&keys[f]).then(|| rank[f]);
    for item in &seq {
        let text = match item {
            Item::Portion { f, positions, bar } => portion(net, *f, positions, *bar, tag(*f), style),
            Item::Square { members, bar } => {
                let inner: Vec<String> = members
                    .iter()
                    .enumerate()
                    .map(|(k, (f, p))| {
                        if is_ones(*f) {
                            one(*bar == Some(k), style)
                        } else {
                            portion(net, *f, p, *bar == Some(k), tag(*f), style)
                        }
                    })
                    .collect();
                // In LaTeX a thin space keeps `[a dX̄_1]` from reading as `[adX̄_1]`.
                let gap = if style == Format::Latex { " \\, " } else { " " };
                format!("[{}]", inner.join(gap))
            }
            Item::Iota => match style {
                Format::Unicode => "ι".into(),
                Format::Latex => "\\iota".into(),
                _ => "iota".into(),
            },
            Item::One { bar } => one(*bar, style),
        };
        parts.push(text);
    }
    // Items stand side by side; a blank separates two items unless one is a bracket.
    let mut out = String::new();
    for p in parts {
        let glued = out.ends_with(']') || p.starts_with('[') || out.is_empty();
        out = if style == Format::Unicode && glued {
            join(style, &out, &p)
        } else {
            format!("{out} {p}").trim_start().to_string()
        };
    }
    Some(out)
}

fn one(bar: bool, style: Format) -> String {
    match (bar, style) {
        (false, Format::Latex) => "\\mathbf{1}".into(),
        (false, _) => "1".into(),
        (true, Format::Unicode) => "1\u{304}".into(),
        (true, Format::Latex) => "\\bar{\\mathbf{1}}".into(),
        (true, _) => "~1".into(),
    }
}

/// Joins neighbouring items that continue each other, as the tutorial writes them:
/// portions with ascending consecutive positions (`X_2 X_3` → `X_{23}`, `A_1 A_2` → `A`),
/// and square brackets whose members become whole tensors (`[A_1 B_1][A_2 B_2]` → `[A B]`).
fn merge_items(seq: Vec<Item>, net: &Network) -> Vec<Item> {
    let merged = merge_pairs(seq);
    let order = |f: usize| net.factors[f].expr.order();
    let whole = |f: usize, p: &[usize]| p.len() == order(f) && p.iter().enumerate().all(|(k, &x)| x == k + 1);
    let mut out = Vec::new();
    for item in merged {
        match item {
            Item::Square { members, bar } if members[0].1.len() > 1 && !members.iter().all(|(f, p)| whole(*f, p)) => {
                // Split back into one bracket per fused dim.
                for j in 0..members[0].1.len() {
                    let m: Vec<(usize, Vec<usize>)> = members.iter().map(|(f, p)| (*f, vec![p[j]])).collect();
                    out.push(Item::Square { members: m, bar });
                }
            }
            Item::Portion { f, positions, bar } => {
                // Keep runs of ascending consecutive positions together.
                let mut run = vec![positions[0]];
                for &p in &positions[1..] {
                    if p == run[run.len() - 1] + 1 {
                        run.push(p);
                    } else {
                        out.push(Item::Portion { f, positions: std::mem::take(&mut run), bar });
                        run.push(p);
                    }
                }
                out.push(Item::Portion { f, positions: run, bar });
            }
            other => out.push(other),
        }
    }
    out
}

fn merge_pairs(seq: Vec<Item>) -> Vec<Item> {
    let mut out: Vec<Item> = Vec::new();
    for item in seq {
        if let Some(last) = out.last_mut() {
            match (last, &item) {
                (Item::Portion { f, positions, bar }, Item::Portion { f: g, positions: q, bar: b2 })
                    if f == g && bar == b2 && !positions.iter().any(|p| q.contains(p)) =>
                {
                    positions.extend(q.iter().copied());
                    continue;
                }
                (Item::Square { members, bar }, Item::Square { members: m2, bar: b2 })
                    if bar.is_some() == b2.is_some()
                        && (bar.is_none() || bar == b2)
                        && members.len() == m2.len()
                        && members
                            .iter()
                            .zip(m2)
                            .all(|((f, p), (g, q))| f == g && !p.iter().any(|x| q.contains(x))) =>
                {
                    for ((_, p), (_, q)) in members.iter_mut().zip(m2) {
                        p.extend(q.iter().copied());
                    }
                    continue;
                }
                _ => {}
            }
        }
        out.push(item);
    }
    out
}

/// A name (`A`, `x1`, `λ`, `dX`, `W_1`): it can carry a portion subscript.
fn simple_name(e: &Expr) -> bool {
    match &e.kind {
        // A backpropagation seed `∇_{Z}J` is embedded: `{∇_{Z}J}_1`.
        Kind::Var(n) => !n.starts_with('∇'),
        Kind::Diff(n) => !n.starts_with('∇'),
        Kind::Identity => true,
        _ => false,
    }
}

/// A name whose own subscript would read as a portion in a bracket term (`W_1`).
fn digit_subscripted(n: &str) -> bool {
    n.split_once('_').is_some_and(|(_, sub)| {
        let sub = sub.trim_start_matches('{').trim_end_matches('}');
        !sub.is_empty() && sub.chars().all(|c| c.is_ascii_digit())
    })
}

fn factor_key(e: &Expr, style: Format) -> String {
    match &e.kind {
        Kind::Var(n) if simple_name(e) => n.clone(),
        Kind::Diff(n) if simple_name(e) => format!("d{n}"),
        Kind::Identity => "I".into(),
        _ => format!("{{{}}}", Printer::new(style).top(e)).chars().filter(|c| !c.is_whitespace()).collect(),
    }
}

/// The rank of each factor among the factors with the same key (1-based).
fn occurrence_ranks(net: &Network, keys: &[String]) -> Vec<usize> {
    let mut count: IndexMap<&str, usize> = IndexMap::new();
    (0..net.factors.len())
        .map(|f| {
            let c = count.entry(keys[f].as_str()).or_insert(0);
            *c += 1;
            *c
        })
        .collect()
}

/// Keys whose portions the parser's occurrence rule would group differently.
fn ambiguous_keys(seq: &[Item], net: &Network, keys: &[String]) -> IndexSet<String> {
    let mut walk: Vec<(usize, Vec<usize>)> = Vec::new();
    for item in seq {
        match item {
            Item::Portion { f, positions, .. } => walk.push((*f, positions.clone())),
            Item::Square { members, .. } => {
                walk.extend(members.iter().filter(|(f, _)| !matches!(net.factors[*f].expr.kind, Kind::Ones)).cloned())
            }
            _ => {}
        }
    }
    let mut current: IndexMap<&str, (usize, Vec<usize>)> = IndexMap::new();
    let mut bad = IndexSet::new();
    let mut seen_factor_of_occurrence: IndexMap<(String, usize), usize> = IndexMap::new();
    let mut occurrence_count: IndexMap<&str, usize> = IndexMap::new();
    for (f, positions) in walk {
        let key = keys[f].as_str();
        let fresh = match current.get(key) {
            Some((_, used)) => positions.iter().any(|p| used.contains(p)),
            None => true,
        };
        if fresh {
            let n = occurrence_count.entry(key).or_insert(0);
            *n += 1;
            current.insert(key, (*n, positions.clone()));
        } else if let Some((_, used)) = current.get_mut(key) {
            used.extend(positions.iter().copied());
        }
        let occ = current[key].0;
        let entry = seen_factor_of_occurrence.entry((key.to_string(), occ)).or_insert(f);
        if *entry != f {
            bad.insert(key.to_string());
        }
    }
    // A factor split over two occurrences is ambiguous too.
    let mut factor_occ: IndexMap<usize, usize> = IndexMap::new();
    for ((key, occ), f) in &seen_factor_of_occurrence {
        if let Some(prev) = factor_occ.insert(*f, *occ) {
            if prev != *occ {
                bad.insert(key.clone());
            }
        }
    }
    bad
}

fn portion(net: &Network, f: usize, positions: &[usize], bar: bool, tag: Option<usize>, style: Format) -> String {
    let e = &net.factors[f].expr;
    let n = e.order();
    let whole = positions.len() == n && positions.iter().enumerate().all(|(k, &p)| p == k + 1);
    let sub = if whole {
        String::new()
    } else {
        let text = crate::render::positions_text(positions);
        if text.chars().count() == 1 {
            format!("_{text}")
        } else {
            format!("_{{{text}}}")
        }
    };
    let tag = tag.map(|t| format!("@{t}")).unwrap_or_default();
    let printer = Printer::new(style);
    let subscripted = matches!(&e.kind, Kind::Var(n) | Kind::Diff(n) if n.contains('_'));
    let sub = if subscripted && !whole && sub.is_empty() { String::new() } else { sub };
    let whole_digit_name = whole && matches!(&e.kind, Kind::Var(n) | Kind::Diff(n) if digit_subscripted(n));
    if simple_name(e) && !whole_digit_name {
        let (prefix, name) = match &e.kind {
            Kind::Diff(n) => ("d", printer.name(n)),
            Kind::Var(n) => ("", printer.name(n)),
            _ => ("", "I".to_string()),
        };
        // In LaTeX a subscripted name takes its portion subscript in braces: `{W_1}_2`
        // (a barred one is in the bar's: `\bar{W_1}_2`).
        let braced = style == Format::Latex && name.contains('_') && !sub.is_empty() && !bar;
        let name = if braced { format!("{{{name}}}") } else { name };
        let name = if bar {
            match style {
                // On a word's last letter (`Wk̄`, which reads back as the word; `W̄k` reads
                // as W̄ times k), else on the first (`W̄_1`, `W̄1`).
                Format::Unicode => {
                    let letters = name.chars().take_while(|c| c.is_alphabetic()).count().max(1);
                    let at = if letters >= 2 { letters - 1 } else { 0 };
                    let (before, rest) = name.split_at(name.char_indices().nth(at).map_or(0, |(i, _)| i));
                    let mut chars = rest.chars();
                    let letter = chars.next().unwrap_or('?');
                    format!("{before}{}{}", barred(letter), chars.as_str())
                }
                Format::Latex => format!("\\bar{{{name}}}"),
                _ => name,
            }
        } else {
            name
        };
        let lead = if bar && !matches!(style, Format::Unicode | Format::Latex) { "~" } else { "" };
        format!("{lead}{prefix}{name}{tag}{sub}")
    } else {
        let inner = printer.top(e);
        match (bar, style) {
            (false, Format::Latex) => format!("\\{{{inner}\\}}{tag}{sub}"),
            (true, Format::Latex) => format!("\\overline{{\\{{{inner}\\}}}}{tag}{sub}"),
            (false, _) => format!("{{{inner}}}{tag}{sub}"),
            (true, Format::Unicode) => format!("{{{inner}}}\u{304}{tag}{sub}"),
            (true, _) => format!("~{{{inner}}}{tag}{sub}"),
        }
    }
}

/// A letter with a bar: the precomposed character where Unicode has one (`Ā`), else the
/// letter and a combining macron.
fn barred(c: char) -> String {
    const PRECOMPOSED: [(char, char); 14] = [
        ('A', 'Ā'),
        ('a', 'ā'),
        ('E', 'Ē'),
        ('e', 'ē'),
        ('G', 'Ḡ'),
        ('g', 'ḡ'),
        ('I', 'Ī'),
        ('i', 'ī'),
        ('O', 'Ō'),
        ('o', 'ō'),
        ('U', 'Ū'),
        ('u', 'ū'),
        ('Y', 'Ȳ'),
        ('y', 'ȳ'),
    ];
    match PRECOMPOSED.iter().find(|(l, _)| *l == c) {
        Some((_, p)) => p.to_string(),
        None => format!("{c}\u{304}"),
    }
}
