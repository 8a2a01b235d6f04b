//! Expressions: names, sums, products (classic or bracket), the binary and postfix
//! operators, with their shapes checked.

use super::spread::{broadcast_note, Role};
use super::*;

impl Elab {
    // ------------------------------------------------------------------ expressions

    pub(super) fn expr(&mut self, n: &Node) -> Result<Expr> {
        let span = n.span;
        let e = match &n.kind {
            NodeKind::Number { value, barred, .. } => {
                if *barred {
                    return self.bracket(std::slice::from_ref(n), span);
                }
                Expr::new(Kind::Const(value.clone()), vec![])
            }
            NodeKind::OnesLead => Expr::new(Kind::Ones, vec![self.u.fresh()]),
            NodeKind::Name(name) => {
                if name.bar || name.tag.is_some() || name.portion.is_some() || self.is_portion(name, false) {
                    self.note_lone_portion(name, span);
                    return self.bracket(std::slice::from_ref(n), span);
                }
                self.name(name, span)?
            }
            NodeKind::Iota | NodeKind::Square(_) | NodeKind::Embed { .. } | NodeKind::Bar(_) => {
                return self.bracket(std::slice::from_ref(n), span)
            }
            NodeKind::Paren(inner) => self.expr(inner)?,
            NodeKind::Norm(inner, sub) => {
                let a = self.expr(inner)?;
                match sub.as_deref() {
                    None | Some("F" | "fro") => {}
                    Some("2") if a.order() <= 1 => {}
                    Some("2") => {
                        return Err(err(
                            ErrorCode::Unsupported,
                            "the spectral norm ‖X‖₂ of a matrix is not supported",
                            span,
                        )
                        .hint("‖X‖ and ‖X‖_F are the Frobenius norm, which is supported"))
                    }
                    // The 1-norm of a vector is the sum of its absolute values; of a
                    // matrix it is the largest column sum, which is not differentiable
                    // in classic form, so it is refused rather than read entrywise.
                    Some("1") if a.order() == 1 => {
                        let shape = a.shape.clone();
                        let abs = Expr::new(Kind::Func { func: Func::Abs, derivative: 0, arg: boxed(a) }, shape);
                        return Ok(Expr::new(Kind::Sum(boxed(abs)), vec![]));
                    }
                    Some("1") => {
                        return Err(err(
                            ErrorCode::Unsupported,
                            "the 1-norm ‖X‖₁ of a matrix (its largest column sum) is not supported",
                            span,
                        )
                        .hint("for the sum of absolute entries write `sum(abs(X))`"))
                    }
                    Some(other) => {
                        return Err(err(ErrorCode::Unsupported, format!("the norm ‖·‖_{other} is not supported"), span)
                            .hint("‖x‖ (or ‖x‖_2) is the 2-norm, ‖x‖_1 the 1-norm of a vector, and ‖X‖ (or ‖X‖_F) the Frobenius norm"))
                    }
                }
                Expr::new(Kind::Norm(boxed(a)), vec![])
            }
            NodeKind::DetBars(inner) => {
                let a = self.expr(inner)?;
                if a.is_scalar() {
                    Expr::new(Kind::Func { func: Func::Abs, derivative: 0, arg: boxed(a) }, vec![])
                } else {
                    // `|x|` of a vector is NumPy's abs, not a determinant.
                    self.square(&a, "a determinant", inner.span).map_err(|e| {
                        if a.order() == 1 {
                            e.hint("`|X|` is the determinant of a matrix; for the absolute value of each entry write abs(x)")
                        } else {
                            e
                        }
                    })?;
                    Expr::new(Kind::Det(boxed(a)), vec![])
                }
            }
            NodeKind::Einsum { spec, spec_span, args } => self.einsum(spec, *spec_span, args)?,
            NodeKind::Call { func, prime, sup, args } => self.call(*func, *prime, sup.as_deref(), args, span)?,
            NodeKind::Diff(inner) => {
                let a = self.expr(inner)?;
                let shape = a.shape.clone();
                Expr::new(Kind::DiffOf(boxed(a)), shape)
            }
            NodeKind::SubCall { name, name_span, positions, arg } => {
                self.sub_call(name, *name_span, positions, arg, span)?
            }
            NodeKind::PrimeCall { name, arg, primes, .. } => {
                let a = self.expr(arg)?;
                let full = name.full();
                self.functions.insert(full.clone());
                let shape = a.shape.clone();
                Expr::new(Kind::Func { func: Func::Declared(full), derivative: *primes, arg: boxed(a) }, shape)
            }
            NodeKind::Neg(inner) => {
                let a = self.expr(inner)?;
                scale(-BigRational::one(), a)
            }
            NodeKind::Sum(terms) => self.sum(terms)?,
            NodeKind::Juxt(items) | NodeKind::Word(items) => self.juxt(items, span)?,
            NodeKind::Binary { op, op_span, lhs, rhs } => self.binary(op, *op_span, lhs, rhs)?,
            NodeKind::Postfix { op, op_span, arg } => self.postfix(op, *op_span, arg)?,
        };
        if e.order() > limits::MAX_ORDER {
            return Err(err(
                ErrorCode::Limit,
                format!("this has {} dims; the limit is {}", e.order(), limits::MAX_ORDER),
                span,
            ));
        }
        Ok(e)
    }

    pub(super) fn name(&mut self, name: &NameRef, span: Span) -> Result<Expr> {
        let full = name.full();
        if name.diff {
            let shape = self.var_shape(&full, span)?;
            return Ok(Expr::new(Kind::Diff(full), shape));
        }
        // (`I` cannot be declared or defined: `statements::reserved`.)
        if full == "I" {
            let d = self.u.fresh();
            return Ok(Expr::new(Kind::Identity, vec![d.clone(), d]));
        }
        // `I_n`: the identity of size n (a size starts with a letter).
        if let (Some(sub), "I") = (&name.sub, name.base.as_str()) {
            let size = sub.starts_with(|c: char| c.is_alphabetic()) && sub.chars().all(char::is_alphanumeric);
            if size && !self.decls.contains_key(&full) && !self.vars.contains_key(&full) {
                let d = Dim::Sym(sub.clone());
                return Ok(Expr::new(Kind::Identity, vec![d.clone(), d]));
            }
        }
        if self.functions.contains(&full) {
            return Err(err(ErrorCode::Shape, format!("`{full}` is a function; apply it to an argument"), span)
                .hint(format!("write `{full}(X)`")));
        }
        let shape = self.var_shape(&full, span)?;
        Ok(Expr::new(Kind::Var(full), shape))
    }

    pub(super) fn square(&mut self, a: &Expr, what: &str, span: Span) -> Result<()> {
        if a.order() != 2 {
            return Err(err(
                ErrorCode::Shape,
                format!("{what} needs a square matrix, but this has shape {}", self.u.show(&a.shape)),
                span,
            ));
        }
        self.u.unify(&a.shape[0], &a.shape[1], span).map_err(|_| {
            let shown = self.u.show(&a.shape);
            err(ErrorCode::Shape, format!("{what} needs a square matrix, but this is {shown}"), span)
                .hint("only square matrices have a trace, determinant, inverse or power")
        })
    }

    /// `ε 1` added to a matrix: a scalar times the ones tensor of the matrix's shape, as
    /// `1` alone and `2 1` are (the product made `1` a vector of a size nothing fixed).
    fn scaled_ones_like(&mut self, e: Expr, like: &[Dim]) -> Expr {
        if like.len() < 2 || !self.scaled_ones_vector(&e) {
            return e;
        }
        let Kind::Product(a, b) = &e.kind else { return e };
        let scalar = if a.is_scalar() { a } else { b };
        let ones = Expr::new(Kind::Ones, like.to_vec());
        crate::ir::build::product((**scalar).clone(), ones)
    }

    /// A scalar times a ones vector whose size nothing has fixed (`ε 1`).
    fn scaled_ones_vector(&mut self, e: &Expr) -> bool {
        let Kind::Product(a, b) = &e.kind else { return false };
        let (scalar, ones) = if a.is_scalar() { (a, b) } else { (b, a) };
        scalar.is_scalar()
            && ones.kind == Kind::Ones
            && ones.shape.len() == 1
            && matches!(self.u.resolve(&ones.shape[0]), Dim::Var(_))
    }

    pub(super) fn sum(&mut self, terms: &[(bool, Node)]) -> Result<Expr> {
        let mut elaborated = Vec::with_capacity(terms.len());
        for (negative, node) in terms {
            let e = self.expr(node)?;
            elaborated.push((*negative, node, e));
        }
        // The shape of the first term that is not a number, or of the first matrix where
        // a scaled ones vector (`ε 1`) opens the sum.
        let candidates: Vec<&Expr> = elaborated
            .iter()
            .filter(|(_, node, e)| !(scaled_one(node).is_some() && e.is_scalar()))
            .map(|(_, _, e)| e)
            .collect();
        let like = match candidates.first() {
            Some(e) if self.scaled_ones_vector(e) => {
                candidates.iter().find(|e| e.shape.len() >= 2).map_or_else(|| e.shape.clone(), |m| m.shape.clone())
            }
            Some(e) => e.shape.clone(),
            None => vec![],
        };
        let mut out = Vec::with_capacity(elaborated.len());
        for (negative, node, e) in elaborated {
            let e = self.broadcast_one(node, e, &like, Role::Added);
            let e = self.scaled_ones_like(e, &like);
            self.u.unify_shapes(&like, &e.shape, node.span).map_err(|x| {
                let (a, b) = (self.u.show(&like), self.u.show(&e.shape));
                let hint = x.hint.unwrap_or(x.message) + broadcast_note(like.len(), e.order());
                let mut x = err(ErrorCode::Shape, format!("cannot add shape {b} to shape {a}"), node.span).hint(hint);
                if like.is_empty() != e.is_scalar() {
                    self.scalar_sum = true;
                    // `s 1` takes a vector's or a matrix's shape where it is added.
                    let ones = match like.len().max(e.shape.len()) {
                        1 | 2 => "`s 1`",
                        _ => "`s` times a ones tensor of its shape",
                    };
                    x = x.hint(format!(
                        "a scalar and a tensor cannot be added; to add a scalar s to every entry write {ones} (a number alone is added to every entry)"
                    ));
                }
                x
            })?;
            out.push(if negative { scale(-BigRational::one(), e) } else { e });
        }
        Ok(Expr::new(Kind::Add(out), like))
    }

    pub(super) fn juxt(&mut self, items: &[Node], span: Span) -> Result<Expr> {
        if items.iter().any(|i| self.bracket_marker(i)) {
            return self.bracket(items, span);
        }
        match self.classic_product(items) {
            Ok(e) => {
                self.note_word_before_parenthesis(items);
                self.notes.extend(crate::read::spacing::loose_divisor_note(items, &self.source));
                Ok(e)
            }
            Err(e) if e.code == ErrorCode::Shape && self.looks_like_call(items).is_some() => {
                let (name, at) = self.looks_like_call(items).expect("checked");
                let hint = crate::read::hints::unknown_function(&name);
                Err(err(ErrorCode::Unknown, format!("unknown function `{name}`"), at).hint(hint))
            }
            Err(e) if e.code == ErrorCode::Shape && items.iter().all(|i| self.is_vector_name(i)) => {
                let saved = self.u.clone();
                let saved_vars = self.vars.clone();
                match self.bracket(items, span) {
                    Ok(b) => Ok(b),
                    Err(_) => {
                        self.u = saved;
                        self.vars = saved_vars;
                        Err(e)
                    }
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Does this juxtaposition apply a declared function (`f(X)`)?
    pub(super) fn applies_function(&self, n: &Node) -> bool {
        match &n.kind {
            NodeKind::Juxt(items) => {
                items.iter().any(|i| matches!(&i.kind, NodeKind::Name(m) if self.functions.contains(&m.full())))
            }
            _ => false,
        }
    }

    /// A plain name of a vector: `u v w` of vectors is read as a tensor product.
    pub(super) fn is_vector_name(&self, n: &Node) -> bool {
        is_plain_name(n)
            && matches!(&n.kind, NodeKind::Name(name) if self.vars.get(&name.full()).is_some_and(|v| v.shape.len() == 1))
    }

    /// A word of several letters, undeclared, written against a parenthesis (`Phi(Xw)`,
    /// the normal cdf as statisticians write it) is a name times what follows: said in a
    /// note, with how to make it a function.
    fn note_word_before_parenthesis(&mut self, items: &[Node]) {
        for pair in items.windows(2) {
            let (NodeKind::Name(name), NodeKind::Paren(_)) = (&pair[0].kind, &pair[1].kind) else { continue };
            let written = self.source.get(pair[0].span.start..pair[0].span.end).unwrap_or("");
            let adjacent = pair[0].span.end == pair[1].span.start;
            let plain = name.sub.is_none() && !name.diff && !name.bar && name.portion.is_none();
            let declared =
                self.decls.contains_key(&name.full()) || self.vars.get(&name.full()).is_some_and(|i| i.defined);
            // σ is the sigmoid only right against its parenthesis (`sigma(x)`); with a space
            // between, the Greek name times what follows, as the syntax says, and as the
            // reader may not have meant.
            if !adjacent && plain && !declared && name.base == "σ" {
                self.notes.push(format!(
                    "`{written} (…)` is read as the name σ times (…); the sigmoid is `{written}(…)`, with no space"
                ));
            }
            if adjacent && plain && !declared && written.chars().count() > 1 && written.chars().all(char::is_alphabetic)
            {
                let shown = &name.base;
                self.notes.push(format!(
                    "`{written}(…)` is read as the product of the name {shown} and (…); \
                     to apply a function of your own, declare it: `{written}: elementwise`"
                ));
            }
        }
    }

    /// A portion standing alone, outside bracket notation (`x + x_1`, where x is used
    /// bare): the tensor itself with its dims named, which a reader of classic notation
    /// takes for a name of its own. Said in a note.
    fn note_lone_portion(&mut self, name: &NameRef, span: Span) {
        let plain_sub = |s: &Option<String>| s.as_deref().is_none_or(|s| s.chars().all(|c| c.is_ascii_digit()));
        if name.bar || name.tag.is_some() || !plain_sub(&name.sub) || !plain_sub(&name.portion) {
            return;
        }
        let written = self.source.get(span.start..span.end).unwrap_or("").to_string();
        let (tensor, sub) = match &name.portion {
            Some(p) => (name.full(), p.clone()),
            None => (name.base.clone(), name.sub.clone().unwrap_or_default()),
        };
        let note = format!(
            "`{written}` is read as {tensor} with its dims named {sub} (bracket notation), which is {tensor} \
             itself; for a name of its own, write `{tensor}{sub}` or declare `{written}`"
        );
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }

    /// Letters written together right before `(`, as in `foo(X)` or `f(X)`: the name and
    /// its span, if the product reads like a call of an unknown function.
    pub(super) fn looks_like_call(&self, items: &[Node]) -> Option<(String, Span)> {
        for k in 0..items.len() {
            // Or against a built-in function's name: `logcosh(x)` reads as l o g cosh(x).
            let call = match &items[k].kind {
                NodeKind::Paren(_) => None,
                NodeKind::Call { .. } => {
                    let at = items[k].span;
                    let text = self.source.get(at.start..at.end).unwrap_or("");
                    let word: String = text.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
                    Some((word.clone(), Span::new(at.start, at.start + word.len())))
                }
                _ => continue,
            };
            let mut start = k;
            while start > 0 {
                let prev = &items[start - 1];
                let adjacent = prev.span.end == items[start].span.start;
                let letter = matches!(&prev.kind, NodeKind::Name(n)
                    if n.sub.is_none() && !n.diff && n.base.chars().count() == 1 && n.base.chars().all(|c| c.is_ascii_lowercase()));
                if adjacent && letter {
                    start -= 1;
                } else {
                    break;
                }
            }
            if start < k {
                let name: String = items[start..k]
                    .iter()
                    .filter_map(|n| match &n.kind {
                        NodeKind::Name(n) => Some(n.base.clone()),
                        _ => None,
                    })
                    .collect();
                return match call {
                    Some((word, at)) if !word.is_empty() => Some((format!("{name}{word}"), items[start].span.join(at))),
                    Some(_) => None,
                    None => Some((name, items[start].span.join(items[k - 1].span))),
                };
            }
        }
        None
    }

    pub(super) fn bracket_marker(&self, n: &Node) -> bool {
        match &n.kind {
            NodeKind::Square(_) | NodeKind::Bar(_) | NodeKind::Iota | NodeKind::Embed { .. } => true,
            NodeKind::Number { barred, .. } => *barred,
            NodeKind::Name(name) => {
                name.bar || name.tag.is_some() || name.portion.is_some() || self.is_portion(name, false)
            }
            _ => false,
        }
    }

    pub(super) fn classic_product(&mut self, items: &[Node]) -> Result<Expr> {
        // `f(X)` with f declared element-wise is an application, not a product.
        let mut factors: Vec<(Node, Option<Expr>)> = Vec::with_capacity(items.len());
        let mut i = 0;
        while i < items.len() {
            if let (NodeKind::Name(name), Some(next)) = (&items[i].kind, items.get(i + 1)) {
                // `f(X)ᵀ`, `f(X)⁻¹`: the call binds before the postfix operators.
                if let Some((arg, ops)) = peel_postfix(next) {
                    if !name.diff && self.functions.contains(&name.full()) && !ops.is_empty() {
                        let a = self.expr(arg)?;
                        let shape = a.shape.clone();
                        let func = Func::Declared(name.full());
                        let mut e = Expr::new(Kind::Func { func, derivative: 0, arg: boxed(a) }, shape);
                        for (op, op_span) in ops.into_iter().rev() {
                            e = self.apply_postfix(op, op_span, e, items[i].span.join(next.span))?;
                        }
                        let joined = Node::new(NodeKind::Iota, items[i].span.join(next.span));
                        factors.push((joined, Some(e)));
                        i += 2;
                        continue;
                    }
                }
                if let NodeKind::Paren(arg) = &next.kind {
                    if !name.diff && self.functions.contains(&name.full()) {
                        let a = self.expr(arg)?;
                        let shape = a.shape.clone();
                        let func = Func::Declared(name.full());
                        let e = Expr::new(Kind::Func { func, derivative: 0, arg: boxed(a) }, shape);
                        let joined = Node::new(NodeKind::Iota, items[i].span.join(next.span));
                        factors.push((joined, Some(e)));
                        i += 2;
                        continue;
                    }
                }
            }
            factors.push((items[i].clone(), None));
            i += 1;
        }
        let mut done: Vec<(Node, Expr)> = Vec::with_capacity(factors.len());
        for (node, e) in factors {
            let e = match e {
                Some(e) => e,
                None => self.expr(&node)?,
            };
            done.push((node, e));
        }
        // A literal 1 next to a tensor, or next to a scalar that is not a number (`λ1`),
        // is the ones vector.
        let ones_neighbour = |e: &Expr| !e.is_scalar() || !matches!(e.kind, Kind::Const(_));
        for k in 0..done.len() {
            if is_literal_one(&done[k].0) && done[k].1.is_scalar() {
                let left = k > 0 && ones_neighbour(&done[k - 1].1);
                let right = k + 1 < done.len() && ones_neighbour(&done[k + 1].1);
                if left || right {
                    done[k].1 = Expr::new(Kind::Ones, vec![self.u.fresh()]);
                }
            }
        }
        let mut iter = done.into_iter();
        let (first_node, mut acc) = iter.next().expect("a product has operands");
        let mut acc_span = first_node.span;
        for (node, e) in iter {
            acc = self.product(acc, e, acc_span, node.span)?;
            acc_span = acc_span.join(node.span);
        }
        Ok(acc)
    }

    /// The classic product `a b`: scaling if either is a scalar, else a matrix product
    /// with vectors as columns and `xᵀ` as a row.
    pub(super) fn product(&mut self, a: Expr, b: Expr, a_span: Span, b_span: Span) -> Result<Expr> {
        let span = a_span.join(b_span);
        if a.is_scalar() || b.is_scalar() {
            let shape = if a.is_scalar() { b.shape.clone() } else { a.shape.clone() };
            return Ok(Expr::new(Kind::Product(boxed(a), boxed(b)), shape));
        }
        for (e, s) in [(&a, a_span), (&b, b_span)] {
            if e.order() > 2 {
                let shown = self.u.show(&e.shape);
                return Err(err(
                    ErrorCode::Shape,
                    format!("a matrix product needs vectors or matrices, but this has shape {shown}"),
                    s,
                )
                .hint("contract tensors with `·_k`, `⊙_k`, `A^{P}⊙^{Q}B` or einsum"));
            }
        }
        let as_matrix = |e: &Expr| -> (Dim, Dim) {
            if e.order() == 1 {
                (e.shape[0].clone(), Dim::Iota)
            } else {
                (e.shape[0].clone(), e.shape[1].clone())
            }
        };
        let (ar, ac) = as_matrix(&a);
        let (br, bc) = as_matrix(&b);
        if self.u.unify(&ac, &br, span).is_err() {
            let (sa, sb) = (self.u.show(&a.shape), self.u.show(&b.shape));
            let hint = if sa == sb {
                // NumPy's `*` between arrays of one shape.
                let other = if a.order() == 1 { "for an inner product xᵀy" } else { "or transpose one factor" };
                format!(
                    "`*` and juxtaposition are the matrix product; for the element-wise product (NumPy's `*`) \
                     write `.*` or `⊙`, {other}"
                )
            } else if a.order() == 1 && b.order() == 1 {
                // `c 1` with c a vector only by its case: the hint may name `c: scalar`.
                self.product_mismatch = true;
                "for an inner product write xᵀy, for an outer product xyᵀ, for a tensor product x ⊗ y".to_string()
            } else if a.order() == 1 {
                self.product_mismatch = true;
                "a vector is a column; to multiply from the left use its transpose, xᵀA".to_string()
            } else {
                // `C 1ᵀ…` with C a count written in capitals: the hint may name `C: scalar`.
                self.product_mismatch = true;
                "the columns of the left factor must match the rows of the right one".to_string()
            };
            return Err(err(
                ErrorCode::Shape,
                format!("cannot multiply shape {sa} by shape {sb}: inner dimensions differ"),
                b_span,
            )
            .hint(hint));
        }
        let (r0, r1) = (self.u.resolve(&ar), self.u.resolve(&bc));
        let shape = match (r0 == Dim::Iota, r1 == Dim::Iota) {
            (true, true) => vec![],
            (false, true) => vec![ar],
            _ => vec![ar, bc],
        };
        Ok(Expr::new(Kind::Product(boxed(a), boxed(b)), shape))
    }

    pub(super) fn binary(&mut self, op: &BinOp, op_span: Span, lhs: &Node, rhs: &Node) -> Result<Expr> {
        if *op == BinOp::MatMul {
            let written = self.source.get(op_span.start..op_span.end).unwrap_or("").to_string();
            let product = match self.classic_product(&[lhs.clone(), rhs.clone()]) {
                // NumPy's `@` takes a 1-D array on its left as a row: `r @ r` is rᵀr and
                // `x @ A @ x` is xᵀAx. Read so only where a column would not multiply.
                Err(e) if written == "@" && e.code == ErrorCode::Shape => match self.numpy_row_product(lhs, rhs)? {
                    Some(product) => return Ok(product),
                    None => return Err(e),
                },
                product => product?,
            };
            // NumPy's `*` is element-wise; here it is MATLAB's matrix product.
            if let Kind::Product(a, b) = &product.kind {
                let matrix = |e: &Expr| e.order() == 2 && !e.shape.contains(&Dim::Iota);
                if written == "*" && matrix(a) && matrix(b) {
                    self.notes.push(
                        "`*` between matrices is the matrix product (MATLAB's); NumPy's element-wise `*` is `.*`"
                            .to_string(),
                    );
                }
            }
            return Ok(product);
        }
        let a = self.expr(lhs)?;
        let b = self.expr(rhs)?;
        match op {
            BinOp::MatMul => unreachable!(),
            BinOp::Div => {
                // `1/2x^T A x` with x a vector: a number written against a name divides
                // with it only where that makes a scalar; else it is `(1/2)xᵀAx`, said.
                if let (false, NodeKind::Juxt(items)) = (b.is_scalar(), &rhs.kind) {
                    let tight = items.len() >= 2 && items[0].span.end == items[1].span.start;
                    if tight && matches!(items[0].kind, NodeKind::Number { .. }) {
                        let head_span = lhs.span.join(items[0].span);
                        let divided = NodeKind::Binary {
                            op: BinOp::Div,
                            op_span,
                            lhs: Box::new(lhs.clone()),
                            rhs: Box::new(items[0].clone()),
                        };
                        let mut loose = vec![Node::new(divided, head_span)];
                        loose.extend(items[1..].iter().cloned());
                        let text = |n: &Node| self.source.get(n.span.start..n.span.end).unwrap_or("").to_string();
                        let rest = items[1..].iter().map(text).collect::<Vec<_>>().join(" ");
                        self.notes.push(format!(
                            "`{}/{}` divides by {} alone: {rest} is not a scalar",
                            text(lhs),
                            text(rhs),
                            text(&items[0])
                        ));
                        return self.juxt(&loose, lhs.span.join(rhs.span));
                    }
                }
                if !b.is_scalar() {
                    let shown = self.u.show(&b.shape);
                    // A row divides where a product that starts with it was meant: `/ xᵀx`.
                    let text = self.source.get(rhs.span.start..rhs.span.end).unwrap_or("");
                    let hint = match b.shape.first() == Some(&Dim::Iota) {
                        true => format!("`/` divides by the one factor after it, `{text}`; to divide by a product, put it in parentheses: `/({text} …)`"),
                        false => "for element-wise division use `⊘` or `./`; for an inverse use `X⁻¹`".to_string(),
                    };
                    return Err(err(
                        ErrorCode::Shape,
                        format!("`/` divides by a scalar, but the divisor has shape {shown}"),
                        rhs.span,
                    )
                    .hint(hint));
                }
                // (`x/0`, `x/(1 − 1)`: a divisor that is the number zero, as written.)
                if number_value(&b).is_some_and(|v| v.is_zero()) {
                    return Err(err(ErrorCode::Shape, "division by zero", rhs.span).hint("the divisor is the number 0"));
                }
                if let (Kind::Const(x), Kind::Const(y)) = (&a.kind, &b.kind) {
                    // `1/2` is the number one half.
                    return Ok(Expr::new(Kind::Const(x / y), vec![]));
                }
                let shape = a.shape.clone();
                Ok(Expr::new(Kind::DivScalar(boxed(a), boxed(b)), shape))
            }
            BinOp::Hadamard | BinOp::HDiv => {
                let hadamard = *op == BinOp::Hadamard;
                let (left, right) =
                    if hadamard { (Role::Factor, Role::Factor) } else { (Role::Dividend, Role::Divisor) };
                let b = self.broadcast_one(rhs, b, &a.shape.clone(), right);
                let a = self.broadcast_one(lhs, a, &b.shape.clone(), left);
                // `s 1 ⊘ xᵀ`: a scaled ones vector whose size nothing fixed takes the shape
                // of a row, matrix or tensor beside it, as in a sum (`2 1 − xᵀ`).
                let b = self.scaled_ones_like(b, &a.shape.clone());
                let a = self.scaled_ones_like(a, &b.shape.clone());
                // A scalar against a tensor is spread over it, as MATLAB's and NumPy's
                // element-wise operators spread it: `ρ .* r` is ρr, `r ./ ρ` is r/ρ and
                // `ρ ./ r` is (ρ1) ⊘ r.
                if a.is_scalar() != b.is_scalar() {
                    return Ok(self.spread_scalar(a, b, hadamard, lhs, rhs));
                }
                let symbol = if *op == BinOp::Hadamard { "⊙" } else { "⊘" };
                self.same_shape(&a, &b, symbol, op_span)?;
                // `x ./ 0`: the zero spread over x's shape.
                if !hadamard && matches!(&b.kind, Kind::Scale(c, o) if c.is_zero() && o.kind == Kind::Ones) {
                    return Err(err(ErrorCode::Shape, "division by zero", rhs.span)
                        .hint("the divisor is the number 0 in every entry"));
                }
                let shape = a.shape.clone();
                let kind = if *op == BinOp::Hadamard {
                    Kind::Hadamard(boxed(a), boxed(b))
                } else {
                    Kind::HDiv(boxed(a), boxed(b))
                };
                Ok(Expr::new(kind, shape))
            }
            BinOp::Kron => {
                let mut shape = a.shape.clone();
                shape.extend(b.shape.iter().cloned());
                Ok(Expr::new(Kind::Kron(boxed(a), boxed(b)), shape))
            }
            BinOp::Dot => {
                self.same_shape(&a, &b, "·", op_span)?;
                Ok(Expr::new(Kind::Dot(boxed(a), boxed(b)), vec![]))
            }
            BinOp::DotK(k) | BinOp::HadK(k) => {
                let dot = matches!(op, BinOp::DotK(_));
                // A literal `1` beside `·_k` is a ones tensor with the dims it pairs
                // (eq. 10: `1 ·_1 (uvᵀ)` sums over the first dim).
                let (a, b) = match k {
                    Shortcut::K(k) if b.order() >= *k && a.is_scalar() => {
                        let like = b.shape[..*k].to_vec();
                        (self.broadcast_one(lhs, a, &like, Role::Paired), b)
                    }
                    Shortcut::K(k) if a.order() >= *k && b.is_scalar() => {
                        let like = a.shape[a.order() - *k..].to_vec();
                        let b = self.broadcast_one(rhs, b, &like, Role::Paired);
                        (a, b)
                    }
                    Shortcut::Right if a.is_scalar() => {
                        let like = b.shape.clone();
                        (self.broadcast_one(lhs, a, &like, Role::Paired), b)
                    }
                    Shortcut::Left if b.is_scalar() => {
                        let like = a.shape.clone();
                        let b = self.broadcast_one(rhs, b, &like, Role::Paired);
                        (a, b)
                    }
                    _ => (a, b),
                };
                let (kk, form) = match k {
                    Shortcut::K(k) => (*k, GenForm::K(*k)),
                    Shortcut::Right => (b.order(), GenForm::Right),
                    Shortcut::Left => (a.order(), GenForm::Left),
                };
                if kk > a.order() || kk > b.order() {
                    return Err(err(
                        ErrorCode::Shape,
                        format!(
                            "`_{kk}` pairs the last {kk} dims of the left operand (it has {}) with the \
                             first {kk} of the right one (it has {})",
                            a.order(),
                            b.order()
                        ),
                        op_span,
                    )
                    .hint(if a.is_scalar() || b.is_scalar() {
                        "a scalar has no dims to pair; a literal `1` there stands for a ones tensor"
                    } else {
                        "`·_k` and `⊙_k` need k dims on each side"
                    }));
                }
                let n = a.order();
                let left = (n - kk + 1..=n).map(|at| Pos { at, bar: dot }).collect();
                let right = (1..=kk).map(|at| Pos { at, bar: dot }).collect();
                self.gen(a, b, left, right, dot, form, op_span)
            }
            BinOp::Gen { left, right, dot } => {
                let l = read_positions(left, op_span)?;
                let r = read_positions(right, op_span)?;
                let flat = |groups: Vec<PosGroup>| -> Result<Vec<Pos>> {
                    groups
                        .into_iter()
                        .map(|g| {
                            if g.positions.len() != 1 {
                                Err(err(ErrorCode::Syntax, "fused positions `[…]` are not allowed here", op_span))
                            } else {
                                Ok(Pos { at: g.positions[0], bar: g.bar || *dot })
                            }
                        })
                        .collect()
                };
                let (mut l, mut r) = (flat(l)?, flat(r)?);
                if l.len() != r.len() {
                    return Err(err(
                        ErrorCode::Shape,
                        format!("the two position lists have different lengths ({} and {})", l.len(), r.len()),
                        op_span,
                    )
                    .hint("`A^{P} ⊙^{Q} B` pairs the positions of P and Q one by one"));
                }
                for k in 0..l.len() {
                    let bar = l[k].bar || r[k].bar;
                    l[k].bar = bar;
                    r[k].bar = bar;
                }
                // A literal `1` whose positions are 1, 2, … is a ones tensor with the
                // dims it pairs: `T^{3̄} ⊙^{1} 1` sums T over its third dim.
                let in_order = |ps: &[Pos]| ps.iter().enumerate().all(|(j, p)| p.at == j + 1);
                let like = |e: &Expr, ps: &[Pos]| -> Option<Vec<Dim>> {
                    ps.iter().map(|p| e.shape.get(p.at.wrapping_sub(1)).cloned()).collect()
                };
                let (a, b) = match (like(&a, &l), like(&b, &r)) {
                    (Some(dims), _) if b.is_scalar() && in_order(&r) && !l.is_empty() => {
                        let b = self.broadcast_one(rhs, b, &dims, Role::Paired);
                        (a, b)
                    }
                    (_, Some(dims)) if a.is_scalar() && in_order(&l) && !r.is_empty() => {
                        (self.broadcast_one(lhs, a, &dims, Role::Paired), b)
                    }
                    _ => (a, b),
                };
                self.gen(a, b, l, r, *dot, GenForm::Explicit, op_span)
            }
        }
    }

    pub(super) fn same_shape(&mut self, a: &Expr, b: &Expr, symbol: &str, span: Span) -> Result<()> {
        self.u.unify_shapes(&a.shape, &b.shape, span).map_err(|x| {
            let (sa, sb) = (self.u.show(&a.shape), self.u.show(&b.shape));
            let mut hint = x.hint.unwrap_or(x.message);
            if !matches!(symbol, "dot" | "·") {
                hint += broadcast_note(a.order(), b.order());
            }
            err(ErrorCode::Shape, format!("`{symbol}` needs equal shapes, but they are {sa} and {sb}"), span).hint(hint)
        })
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn gen(
        &mut self,
        a: Expr,
        b: Expr,
        left: Vec<Pos>,
        right: Vec<Pos>,
        dot: bool,
        form: GenForm,
        span: Span,
    ) -> Result<Expr> {
        for (list, e, side) in [(&left, &a, "left"), (&right, &b, "right")] {
            let mut seen = IndexSet::new();
            for p in list {
                if p.at == 0 || p.at > e.order() {
                    return Err(err(
                        ErrorCode::Shape,
                        format!("position {} is out of range: the {side} operand has {} dims", p.at, e.order()),
                        span,
                    ));
                }
                if !seen.insert(p.at) {
                    return Err(err(ErrorCode::Shape, format!("position {} is named twice", p.at), span));
                }
            }
        }
        for (p, q) in left.iter().zip(&right) {
            let (da, db) = (a.shape[p.at - 1].clone(), b.shape[q.at - 1].clone());
            self.u.unify(&da, &db, span).map_err(|x| {
                err(
                    ErrorCode::Shape,
                    format!("dim {} of the left operand does not match dim {} of the right one", p.at, q.at),
                    span,
                )
                .hint(x.message)
            })?;
        }
        let mut shape = Vec::new();
        for (k, d) in a.shape.iter().enumerate() {
            if !left.iter().any(|p| p.at == k + 1 && p.bar) {
                shape.push(d.clone());
            }
        }
        for (k, d) in b.shape.iter().enumerate() {
            if !right.iter().any(|q| q.at == k + 1) {
                shape.push(d.clone());
            }
        }
        Ok(Expr::new(Kind::Gen { lhs: boxed(a), rhs: boxed(b), left, right, dot, form }, shape))
    }

    pub(super) fn postfix(&mut self, op: &PostOp, op_span: Span, arg: &Node) -> Result<Expr> {
        // `1_{12}`: a ones tensor of as many dims as the subscript names (NOTATION.md §1);
        // a ones tensor is the tensor product of ones vectors, so each portion of it is one
        // too, and `[A_1 1_1][A_2 1_2]` needs no occurrence bookkeeping.
        if let (PostOp::Subscript(text), true) = (op, is_literal_one(arg)) {
            let groups = read_positions(text, op_span)?;
            if groups.iter().any(|g| g.bar) {
                return Err(err(ErrorCode::Bracket, "a bar inside the subscript of `1` is not supported", op_span)
                    .hint("bar the portion instead: `[1̄_1 x]`, or sum with `1ᵀ`"));
            }
            let shape = groups.iter().map(|_| self.u.fresh()).collect();
            return Ok(Expr::new(Kind::Ones, shape));
        }
        let a = self.expr(arg)?;
        let a = if matches!(op, PostOp::Transpose) && is_literal_one(arg) {
            Expr::new(Kind::Ones, vec![self.u.fresh()])
        } else {
            a
        };
        // `βᵀ` of a Greek letter that is a scalar only by default: say so.
        if let (PostOp::Transpose, NodeKind::Name(name), Kind::Var(v)) = (op, &arg.kind, &a.kind) {
            let by_default = self.vars.get(v).is_some_and(|i| !i.declared && !i.defined && i.shape.is_empty());
            if by_default && !name.base.starts_with(|c: char| c.is_ascii()) {
                let word =
                    crate::read::parse::GREEK.iter().find(|(_, l)| name.base.starts_with(l)).map_or("beta", |(w, _)| w);
                self.notes.push(format!(
                    "`{v}` is a scalar, as Greek letters are unless declared, so `{v}ᵀ` is `{v}`; \
                     declare `{word}: vector` if it is a vector"
                ));
                self.transposed_scalars.insert(v.clone());
            }
        }
        self.apply_postfix(op, op_span, a, arg.span)
    }

    pub(super) fn apply_postfix(&mut self, op: &PostOp, op_span: Span, a: Expr, span: Span) -> Result<Expr> {
        let arg_span = span;
        match op {
            PostOp::Transpose => self.transpose(a, op_span),
            PostOp::Inverse => self.inverse(a, arg_span),
            PostOp::InvTranspose => {
                let inv = self.inverse(a, arg_span)?;
                self.transpose(inv, op_span)
            }
            PostOp::Power(k) => self.power(a, k, arg_span, op_span),
            PostOp::HPower(p) => {
                let shape = a.shape.clone();
                Ok(Expr::new(Kind::HPower(boxed(a), p.clone()), shape))
            }
            PostOp::Subscript(text) => self.rearrange(a, text, op_span, span),
        }
    }

    pub(super) fn transpose(&mut self, a: Expr, span: Span) -> Result<Expr> {
        let shape = match a.order() {
            0 => return Ok(a),
            1 => vec![Dim::Iota, a.shape[0].clone()],
            2 if self.u.resolve(&a.shape[0]) == Dim::Iota => vec![a.shape[1].clone()],
            2 => vec![a.shape[1].clone(), a.shape[0].clone()],
            n => {
                let perm: String = (1..=n).rev().map(|k| k.to_string()).collect();
                return Err(err(
                    ErrorCode::Shape,
                    format!("`ᵀ` transposes vectors and matrices; this has {n} dims"),
                    span,
                )
                .hint(format!("permute the dims with a subscript, e.g. `(T)_{{{perm}}}`")));
            }
        };
        Ok(Expr::new(Kind::Transpose(boxed(a)), shape))
    }

    pub(super) fn inverse(&mut self, a: Expr, span: Span) -> Result<Expr> {
        if !a.is_scalar() {
            self.square(&a, "an inverse", span)?;
        }
        let shape = a.shape.clone();
        Ok(Expr::new(Kind::Inverse(boxed(a)), shape))
    }

    pub(super) fn power(&mut self, a: Expr, k: &BigRational, span: Span, op_span: Span) -> Result<Expr> {
        if a.is_scalar() {
            return Ok(Expr::new(Kind::Power(boxed(a), k.clone()), vec![]));
        }
        if a.order() == 1 {
            return Err(err(ErrorCode::Shape, "a vector has no matrix power", op_span)
                .hint("for an element-wise power write `x.^2`; for the squared norm `||x||^2`"));
        }
        self.square(&a, "a matrix power", span)?;
        let small = k.to_integer().abs() <= BigInt::from(limits::MAX_POWER);
        if !k.is_integer() || !small {
            return Err(err(
                ErrorCode::Shape,
                format!("a matrix power must be an integer from -{0} to {0}", limits::MAX_POWER),
                op_span,
            )
            .hint(if k.is_integer() {
                "for an element-wise power write `X.^p`"
            } else {
                "a matrix root such as A^{1/2} is not supported; `X.^p` is the element-wise power"
            }));
        }
        let shape = a.shape.clone();
        Ok(Expr::new(Kind::Power(boxed(a), k.clone()), shape))
    }

    /// `(e)_{P}`: a permutation, or with fused groups and bars, a one-factor network.
    pub(super) fn rearrange(&mut self, a: Expr, text: &str, op_span: Span, span: Span) -> Result<Expr> {
        let groups = read_positions(text, op_span)?;
        let n = a.order();
        let mut used = vec![false; n];
        for g in &groups {
            for &p in &g.positions {
                if p == 0 || p > n {
                    return Err(err(
                        ErrorCode::Bracket,
                        format!("position {p} is out of range: the tensor has {n} dims"),
                        op_span,
                    ));
                }
                if std::mem::replace(&mut used[p - 1], true) {
                    return Err(err(ErrorCode::Bracket, format!("position {p} is used twice"), op_span));
                }
            }
        }
        if used.iter().any(|u| !u) {
            return Err(err(ErrorCode::Bracket, format!("the subscript must use each of the {n} dims once"), op_span)
                .hint("write every position, e.g. `_{21}` for a transpose"));
        }
        let simple = groups.iter().all(|g| g.positions.len() == 1 && !g.bar);
        if simple {
            let perm: Vec<usize> = groups.iter().map(|g| g.positions[0] - 1).collect();
            let shape = perm.iter().map(|&p| a.shape[p].clone()).collect();
            return Ok(Expr::new(Kind::Permute(boxed(a), perm), shape));
        }
        let mut indices = Vec::new();
        let mut slots = vec![0usize; n];
        let mut output = Vec::new();
        for g in &groups {
            let id = indices.len();
            indices.push(a.shape[g.positions[0] - 1].clone());
            for &p in &g.positions {
                self.u.unify(&a.shape[p - 1], &a.shape[g.positions[0] - 1], span)?;
                slots[p - 1] = id;
            }
            if !g.bar {
                output.push(id);
            }
        }
        let shape = output.iter().map(|&i| indices[i].clone()).collect();
        let net = Network {
            factors: vec![Factor { expr: a, slots }],
            indices,
            output,
            origin: Origin::Subscript(text.to_string()),
        };
        Ok(Expr::new(Kind::Network(Box::new(net)), shape))
    }
}

/// The value of `e` where it is a number written with numbers alone (`1 − 1`, `2/4`).
fn number_value(e: &Expr) -> Option<BigRational> {
    match &e.kind {
        Kind::Const(c) => Some(c.clone()),
        Kind::Scale(c, x) if x.is_scalar() => Some(c * number_value(x)?),
        Kind::Add(terms) if e.is_scalar() => {
            terms.iter().try_fold(BigRational::zero(), |acc, t| Some(acc + number_value(t)?))
        }
        Kind::Product(a, b) if e.is_scalar() => Some(number_value(a)? * number_value(b)?),
        Kind::DivScalar(a, b) => {
            let d = number_value(b)?;
            (!d.is_zero()).then_some(number_value(a)? / d)
        }
        _ => None,
    }
}
