//! Bracket terms: members, portions, bars and occurrences to tensor networks, and the
//! positions of subscripts and superscripts.

use super::*;

impl Elab {
    // ------------------------------------------------------------------ bracket terms

    pub(super) fn bracket(&mut self, items: &[Node], span: Span) -> Result<Expr> {
        // `x[0]`, `A[1, 2]`: NumPy's indexing, which a bracket of numbers alone would
        // read as a product with that number.
        fn no_tensor(n: &Node) -> bool {
            match &n.kind {
                NodeKind::Number { .. } => true,
                NodeKind::Juxt(items) | NodeKind::Word(items) => items.iter().all(no_tensor),
                NodeKind::Neg(x) | NodeKind::Paren(x) => no_tensor(x),
                _ => false,
            }
        }
        let indexing = items.windows(2).find(|w| {
            w[0].span.end == w[1].span.start && matches!(&w[1].kind, NodeKind::Square(inner) if no_tensor(inner))
        });
        if let Some(pair) = indexing {
            return Err(err(ErrorCode::Bracket, "a square bracket of numbers alone holds no tensor", pair[1].span)
                .hint("indexing such as x[0] is not supported: square brackets are the tutorial's bracket terms"));
        }
        let mut b = BracketBuilder::default();
        let mut handles = Vec::new();
        for item in items {
            let h = self.member(&mut b, item, false)?;
            handles.extend(h);
        }
        b.check_complete(self)?;
        let mut output = Vec::new();
        for h in handles {
            let root = b.find(h);
            if b.summed[root] {
                continue;
            }
            if output.contains(&root) {
                return Err(err(ErrorCode::Bracket, "a dimension stands twice in the result", span)
                    .hint("a square bracket joins dims; a dim may stand in the result only once"));
            }
            output.push(root);
        }
        // Renumber the index roots densely, in order of first use.
        let mut renumber: IndexMap<usize, usize> = IndexMap::new();
        let mut factors = Vec::new();
        for f in &b.factors {
            let slots = f
                .slots
                .iter()
                .map(|&s| {
                    let r = b.find_const(s);
                    let n = renumber.len();
                    *renumber.entry(r).or_insert(n)
                })
                .collect();
            factors.push(Factor { expr: f.expr.clone(), slots });
        }
        for &r in &output {
            let n = renumber.len();
            renumber.entry(r).or_insert(n);
        }
        let indices: Vec<Dim> = renumber.keys().map(|&r| b.dims[r].clone()).collect();
        let output: Vec<usize> = output.iter().map(|r| renumber[r]).collect();
        let shape = output.iter().map(|&i| indices[i].clone()).collect();
        if factors.is_empty() && output.is_empty() {
            return Err(err(ErrorCode::Bracket, "this bracket term has no tensors", span));
        }
        let net = Network { factors, indices, output, origin: Origin::Bracket };
        Ok(Expr::new(Kind::Network(Box::new(net)), shape))
    }

    /// Elaborates one member of a bracket term; returns its dims as index handles.
    fn member(&mut self, b: &mut BracketBuilder, n: &Node, in_square: bool) -> Result<Vec<usize>> {
        match &n.kind {
            NodeKind::Bar(inner) => {
                let hs = self.member(b, inner, in_square)?;
                for &h in &hs {
                    let r = b.find(h);
                    b.summed[r] = true;
                }
                Ok(hs)
            }
            NodeKind::Name(name) if !self.functions.contains(&name.full()) => {
                let hs = self.portion(b, name, n.span)?;
                if name.bar {
                    for &h in &hs {
                        let r = b.find(h);
                        b.summed[r] = true;
                    }
                }
                Ok(hs)
            }
            NodeKind::Number { value, barred, text } => {
                if text == "1" {
                    // A ones tensor; its width is fixed by the enclosing square bracket.
                    let h = b.new_index(self.u.fresh());
                    if *barred {
                        b.summed[h] = true;
                    }
                    b.pending_ones.push((h, n.span));
                    return Ok(vec![h]);
                }
                if *barred {
                    return Err(err(ErrorCode::Bracket, "only `1` can be barred among numbers", n.span));
                }
                b.factors.push(BFactor {
                    expr: Expr::new(Kind::Const(value.clone()), vec![]),
                    slots: vec![],
                    used: vec![],
                    key: String::new(),
                    span: n.span,
                });
                Ok(vec![])
            }
            NodeKind::OnesLead => {
                let h = b.new_index(self.u.fresh());
                b.pending_ones.push((h, n.span));
                Ok(vec![h])
            }
            NodeKind::Iota => Ok(vec![b.new_index(Dim::Iota)]),
            NodeKind::Square(inner) => {
                let members: Vec<&Node> = match &inner.kind {
                    NodeKind::Juxt(items) => items.iter().collect(),
                    _ => vec![inner.as_ref()],
                };
                let mut lists = Vec::new();
                for m in &members {
                    let before = b.pending_ones.len();
                    let hs = self.member(b, m, true)?;
                    let ones_only = b.pending_ones.len() > before && hs.len() == 1 && is_literal_one(m);
                    lists.push((hs, ones_only, m.span));
                }
                let width = lists.iter().find(|(_, ones, _)| !ones).map(|(h, _, _)| h.len());
                let Some(width) = width else {
                    return Err(err(ErrorCode::Bracket, "a square bracket needs a tensor besides `1`", n.span));
                };
                // Widen ones members to the bracket's width.
                for (hs, _, _) in lists.iter_mut().filter(|(_, ones, _)| *ones) {
                    let first = hs[0];
                    let root = b.find(first);
                    let barred = b.summed[root];
                    while hs.len() < width {
                        let h = b.new_index(self.u.fresh());
                        b.summed[h] = barred;
                        b.ones_extra.insert(first, h);
                        hs.push(h);
                    }
                }
                let first = lists.iter().find(|(_, ones, _)| !ones).expect("width member").clone();
                for (hs, _, s) in &lists {
                    if hs.len() != width {
                        let text = |span: &Span| self.source.get(span.start..span.end).unwrap_or("").trim().to_string();
                        let dims = |k: usize| format!("{k} dim{}", if k == 1 { "" } else { "s" });
                        return Err(err(
                            ErrorCode::Bracket,
                            format!(
                                "the members of a square bracket must have the same number of dims, \
                                 but `{}` has {} and `{}` has {}",
                                text(&first.2),
                                dims(first.0.len()),
                                text(s),
                                dims(hs.len())
                            ),
                            *s,
                        )
                        .hint({
                            let wider = if first.0.len() > hs.len() { text(&first.2) } else { text(s) };
                            format!(
                                "the j-th dims of all members are fused, so each member gives the same \
                                 number; take a portion such as `{wider}_1`, or group portions in \
                                 parentheses, to match"
                            )
                        }));
                    }
                    for (x, y) in first.0.iter().zip(hs) {
                        b.union(self, *x, *y, *s)?;
                    }
                }
                Ok(first.0.iter().map(|&h| b.find(h)).collect())
            }
            NodeKind::Paren(inner) if is_group(inner) && !self.applies_function(inner) => {
                let items: Vec<&Node> = match &inner.kind {
                    NodeKind::Juxt(items) => items.iter().collect(),
                    _ => vec![inner.as_ref()],
                };
                let mut out = Vec::new();
                for m in items {
                    let hs = self.member(b, m, in_square)?;
                    // Inside a member of a square bracket, a nested bracket whose dims are
                    // all barred is closed: its sums are its own and add no dim to the
                    // member (`[a (C_1 [C̄_2 d])]` is a ⊙ Cd).
                    let closed = in_square
                        && matches!(m.kind, NodeKind::Square(_))
                        && !hs.is_empty()
                        && hs.iter().all(|&h| {
                            let r = b.find(h);
                            b.summed[r]
                        });
                    if !closed {
                        out.extend(hs);
                    }
                }
                Ok(out)
            }
            NodeKind::Embed { inner, bar, tag, sub } => {
                let e = self.expr(inner)?;
                let text: String =
                    self.source[inner.span.start..inner.span.end].chars().filter(|c| !c.is_whitespace()).collect();
                let key = format!("{{{text}}}");
                let hs = self.occurrence_portion(b, e, key, *tag, sub.as_deref(), n.span)?;
                if *bar {
                    for &h in &hs {
                        let r = b.find(h);
                        b.summed[r] = true;
                    }
                }
                Ok(hs)
            }
            NodeKind::Neg(_) => Err(err(ErrorCode::Bracket, "a sign cannot stand inside a bracket term", n.span)
                .hint("put the sign in front of the whole term: `-[A B]`")),
            _ => {
                // Classic notation inside a bracket term: one whole occurrence.
                let e = self.expr(n)?;
                let key = format!("#{}", b.factors.len());
                self.occurrence_portion(b, e, key, None, None, n.span)
            }
        }
    }

    fn portion(&mut self, b: &mut BracketBuilder, name: &NameRef, span: Span) -> Result<Vec<usize>> {
        if name.portion.is_some() && name.sub.as_deref().is_some_and(is_structural_subscript) {
            return Err(err(ErrorCode::Bracket, format!("`{}` has two portion subscripts", name.full()), span)
                .hint("a second subscript is the portion of a subscripted name such as `W_1_2`"));
        }
        let (tensor, sub) = if name.portion.is_some() {
            (NameRef { portion: None, ..name.clone() }, name.portion.clone())
        } else if self.is_portion(name, true) {
            (NameRef { sub: None, ..name.clone() }, name.sub.clone())
        } else {
            (name.clone(), None)
        };
        let e = if self.functions.contains(&tensor.full()) {
            return Err(err(ErrorCode::Shape, format!("`{}` is a function", tensor.full()), span));
        } else {
            self.name(&NameRef { bar: false, tag: None, ..tensor.clone() }, span)?
        };
        let key = match &e.kind {
            Kind::Diff(n) => format!("d{n}"),
            Kind::Var(n) => n.clone(),
            _ => "I".to_string(),
        };
        self.occurrence_portion(b, e, key, name.tag, sub.as_deref(), span)
    }

    /// Adds a portion of an occurrence of `e` (keyed by name) and returns its handles.
    fn occurrence_portion(
        &mut self,
        b: &mut BracketBuilder,
        e: Expr,
        key: String,
        tag: Option<u32>,
        sub: Option<&str>,
        span: Span,
    ) -> Result<Vec<usize>> {
        let order = e.order();
        let groups = match sub {
            None => (1..=order).map(|p| PosGroup { positions: vec![p], bar: false }).collect(),
            Some(text) => read_positions(text, span)?,
        };
        for g in &groups {
            for &p in &g.positions {
                if p == 0 || p > order {
                    return Err(err(
                        ErrorCode::Bracket,
                        format!("portion position {p} is out of range: `{key}` has {order} dims"),
                        span,
                    )
                    .hint(format!("positions run from 1 to {order}")));
                }
            }
        }
        let wanted: Vec<usize> = groups.iter().flat_map(|g| g.positions.iter().copied()).collect();
        // Find the occurrence: by tag, or the current one unless a position repeats.
        let factor = match tag {
            Some(t) => {
                let k = format!("{key}@{t}");
                match b.tagged.get(&k) {
                    Some(&f) => f,
                    None => {
                        let f = b.new_factor(e, key.clone(), span);
                        b.tagged.insert(k, f);
                        f
                    }
                }
            }
            None => match b.current.get(&key) {
                Some(&f) if order > 0 && wanted.iter().all(|&p| !b.factors[f].used[p - 1]) && !key.starts_with('#') => {
                    f
                }
                _ => {
                    let f = b.new_factor(e, key.clone(), span);
                    b.current.insert(key.clone(), f);
                    f
                }
            },
        };
        let mut out = Vec::new();
        for g in &groups {
            let mut first = None;
            for &p in &g.positions {
                if std::mem::replace(&mut b.factors[factor].used[p - 1], true) {
                    return Err(err(
                        ErrorCode::Bracket,
                        format!("position {p} of `{key}` is used twice in one occurrence"),
                        span,
                    )
                    .hint("name the occurrence with a tag, e.g. `X@2_1`"));
                }
                let h = b.factors[factor].slots[p - 1];
                match first {
                    None => first = Some(h),
                    Some(f) => b.union(self, f, h, span)?,
                }
            }
            let h = b.find(first.expect("a group has a position"));
            if g.bar {
                b.summed[h] = true;
            }
            out.push(h);
        }
        Ok(out)
    }
}

/// Ones members waiting for their width, occurrences, and the index union-find.
#[derive(Default)]
struct BracketBuilder {
    factors: Vec<BFactor>,
    current: IndexMap<String, usize>,
    tagged: IndexMap<String, usize>,
    parent: Vec<usize>,
    dims: Vec<Dim>,
    summed: Vec<bool>,
    pending_ones: Vec<(usize, Span)>,
    ones_extra: IndexMap<usize, usize>,
}

struct BFactor {
    expr: Expr,
    slots: Vec<usize>,
    used: Vec<bool>,
    key: String,
    span: Span,
}

impl BracketBuilder {
    fn new_index(&mut self, d: Dim) -> usize {
        let id = self.parent.len();
        self.parent.push(id);
        self.dims.push(d);
        self.summed.push(false);
        id
    }

    fn new_factor(&mut self, e: Expr, key: String, span: Span) -> usize {
        let slots = e.shape.iter().map(|d| self.new_index(d.clone())).collect();
        let used = vec![false; e.order()];
        self.factors.push(BFactor { expr: e, slots, used, key, span });
        self.factors.len() - 1
    }

    fn find(&mut self, mut h: usize) -> usize {
        while self.parent[h] != h {
            self.parent[h] = self.parent[self.parent[h]];
            h = self.parent[h];
        }
        h
    }

    fn find_const(&self, mut h: usize) -> usize {
        while self.parent[h] != h {
            h = self.parent[h];
        }
        h
    }

    fn union(&mut self, el: &mut Elab, a: usize, b: usize, span: Span) -> Result<()> {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return Ok(());
        }
        let (da, db) = (self.dims[ra].clone(), self.dims[rb].clone());
        el.u.unify(&da, &db, span).map_err(|x| {
            err(ErrorCode::Shape, "dims joined by a square bracket have different sizes", span).hint(x.message)
        })?;
        let (keep, drop) = if ra < rb { (ra, rb) } else { (rb, ra) };
        self.parent[drop] = keep;
        self.summed[keep] = self.summed[keep] || self.summed[drop];
        let resolved = el.u.resolve(&self.dims[keep]);
        self.dims[keep] = resolved;
        Ok(())
    }

    /// Every occurrence uses each of its dims once; ones tensors become factors.
    fn check_complete(&mut self, el: &mut Elab) -> Result<()> {
        for f in &self.factors {
            if f.used.iter().any(|u| !u) {
                let missing: Vec<String> =
                    f.used.iter().enumerate().filter(|(_, u)| !**u).map(|(k, _)| (k + 1).to_string()).collect();
                return Err(err(
                    ErrorCode::Bracket,
                    format!(
                        "unfinished occurrence: `{}` has {} dims but position{} {} {} not used",
                        f.key,
                        f.used.len(),
                        if missing.len() == 1 { "" } else { "s" },
                        missing.join(", "),
                        if missing.len() == 1 { "is" } else { "are" }
                    ),
                    f.span,
                )
                .hint(if self.factors.iter().filter(|g| g.key == f.key).count() > 1 {
                    format!(
                        "a position that repeats starts a new occurrence of `{k}`; to say which occurrence \
                         each portion belongs to, tag it: `{k}@1_1 {k}@2_1 {k}@1_2 {k}@2_2`",
                        k = f.key
                    )
                } else {
                    "a bracket term must use every dim of every occurrence exactly once".to_string()
                }));
            }
        }
        let pending = std::mem::take(&mut self.pending_ones);
        for (h, span) in pending {
            let mut slots = vec![h];
            let mut cur = h;
            while let Some(&next) = self.ones_extra.get(&cur) {
                slots.push(next);
                cur = next;
            }
            let shape: Shape = slots
                .iter()
                .map(|&s| {
                    let r = self.find(s);
                    el.u.resolve(&self.dims[r])
                })
                .collect();
            let used = vec![true; slots.len()];
            self.factors.push(BFactor { expr: Expr::new(Kind::Ones, shape), slots, used, key: "1".into(), span });
        }
        Ok(())
    }
}

/// A group of positions in a subscript or superscript: one result dim; several
/// positions in one group are fused (`[23]`); a barred group is summed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PosGroup {
    /// 1-based positions.
    pub positions: Vec<usize>,
    /// Summed.
    pub bar: bool,
}

/// Reads position lists: `12`, `1 2̄`, `1~2`, `1[23]`, `1,10`.
pub fn read_positions(text: &str, span: Span) -> Result<Vec<PosGroup>> {
    let comma = text.contains(',');
    let chars: Vec<char> = text.chars().collect();
    let mut out: Vec<PosGroup> = Vec::new();
    let mut group: Option<PosGroup> = None;
    let mut pending_bar = false;
    let mut i = 0;
    let bad = |c: char| {
        err(ErrorCode::Syntax, format!("`{c}` cannot stand in a list of positions"), span)
            .hint("positions are digits, with `~` or an overline for a bar and `[…]` to fuse")
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | ',' => {}
            '~' => pending_bar = true,
            '\u{304}' | '\u{305}' => {
                // A bar after a position: on the last position read.
                let target = match group.as_mut() {
                    Some(g) => g,
                    None => out.last_mut().ok_or_else(|| bad(c))?,
                };
                target.bar = true;
            }
            '[' => {
                if group.is_some() {
                    return Err(bad(c));
                }
                group = Some(PosGroup { positions: vec![], bar: pending_bar });
                pending_bar = false;
            }
            ']' => {
                let g = group.take().ok_or_else(|| bad(c))?;
                if g.positions.len() < 2 {
                    return Err(err(ErrorCode::Syntax, "`[…]` fuses two or more positions", span));
                }
                out.push(g);
            }
            d if d.is_ascii_digit() => {
                let mut value = d.to_digit(10).unwrap_or(0) as usize;
                if comma {
                    while i + 1 < chars.len() && chars[i + 1].is_ascii_digit() {
                        i += 1;
                        value = value.saturating_mul(10).saturating_add(chars[i].to_digit(10).unwrap_or(0) as usize);
                    }
                }
                match group.as_mut() {
                    Some(g) => {
                        g.positions.push(value);
                        g.bar |= pending_bar;
                    }
                    None => out.push(PosGroup { positions: vec![value], bar: pending_bar }),
                }
                pending_bar = false;
            }
            other => return Err(bad(other)),
        }
        i += 1;
    }
    if group.is_some() {
        return Err(err(ErrorCode::Syntax, "a `[` in the positions is not closed", span));
    }
    if out.is_empty() {
        return Err(err(ErrorCode::Syntax, "the list of positions is empty", span));
    }
    Ok(out)
}

pub(super) fn read_superscript_power(text: &str, span: Span) -> Result<BigRational> {
    if text.chars().all(|c| "⁻⁰¹²³⁴⁵⁶⁷⁸⁹".contains(c)) {
        return Ok(crate::read::parse::superscript_value(text));
    }
    read_number(text, span)
}

pub(super) fn read_number(text: &str, span: Span) -> Result<BigRational> {
    if text.chars().all(|c| "⁻⁰¹²³⁴⁵⁶⁷⁸⁹".contains(c)) && !text.is_empty() {
        return Ok(crate::read::parse::superscript_value(text));
    }
    crate::read::parse::read_number(text, span)
}
