//! Calls: built-in functions (with the spellings of other tools), declared element-wise
//! functions, sub-tensor functions `s^1(A)`, and einsum.

use super::*;

impl Elab {
    /// `mean(a)`: `sum(a)` over the product of a's sizes, each a size name (a scalar, as
    /// `N` alone is where `X: matrix(N, d)`) or a number. A size the input leaves open
    /// has no name to divide by, and is an error that says how to give it one.
    fn mean(&mut self, a: Expr, span: Span) -> Result<Expr> {
        if a.is_scalar() {
            return Ok(a);
        }
        let mut count: Option<Expr> = None;
        for d in a.shape.clone() {
            let factor = match self.u.resolve(&d) {
                Dim::Int(n) => Expr::new(Kind::Const(BigRational::from_integer(n.into())), vec![]),
                Dim::Sym(n) if self.var_shape(&n, span)?.is_empty() => Expr::new(Kind::Var(n), vec![]),
                _ => {
                    let shown = self.u.show(&a.shape);
                    return Err(err(
                        ErrorCode::Shape,
                        format!(
                            "`mean` divides by the number of entries, but the sizes of shape {shown} are not named"
                        ),
                        span,
                    )
                    .hint("declare the shapes with named sizes, e.g. `X: matrix(N, d)`; or write `sum(…)/N`"));
                }
            };
            count = Some(match count {
                None => factor,
                Some(c) => Expr::new(Kind::Product(boxed(c), boxed(factor)), vec![]),
            });
        }
        let sum = Expr::new(Kind::Sum(boxed(a)), vec![]);
        Ok(Expr::new(Kind::DivScalar(boxed(sum), boxed(count.expect("a tensor has a dim"))), vec![]))
    }

    pub(super) fn call(
        &mut self,
        func: Builtin,
        prime: u8,
        sup: Option<&str>,
        args: &[Node],
        span: Span,
    ) -> Result<Expr> {
        // `exp: matrix(n, n); xᵀexp x` reads `exp x` as the function: a declared tensor of
        // a function's name would be silently passed over (survey 19).
        let word: String =
            self.source.get(span.start..).unwrap_or("").chars().take_while(|c| c.is_alphanumeric()).collect();
        if let Some((kind, declared)) = self.decls.get(&word).filter(|(k, _)| !matches!(k, DeclKind::Elementwise)) {
            let (line, _) = crate::error::line_col(&self.source, declared.start);
            let what = if matches!(kind, DeclKind::Scalar) { "a scalar" } else { "a tensor" };
            return Err(err(
                ErrorCode::Unsupported,
                format!("`{word}` is declared as {what} (line {line}) and is also a function, which this applies"),
                span,
            )
            .hint(format!(
                "give the {} another name: a function's name applies the function",
                what.trim_start_matches("a ")
            )));
        }
        let want = if matches!(func, Builtin::Dot | Builtin::Kron) { 2 } else { 1 };
        let name = builtin_name(func);
        if args.len() != want {
            let e = err(
                ErrorCode::Shape,
                format!("`{name}` takes {want} argument{}, not {}", if want == 1 { "" } else { "s" }, args.len()),
                span,
            );
            // NumPy's and MATLAB's axis arguments (`sum(X, 1)`, `mean(X, axis=0)`).
            return Err(match func {
                Builtin::Sum => e.hint(
                    "sum(X) adds every entry; a matrix's row sums are X 1 and its column sums Xᵀ1 (or 1ᵀX as a row)",
                ),
                _ => e,
            });
        }
        if matches!(func, Builtin::Eye | Builtin::Ones) {
            let d = self.size_arg(func, &args[0], span)?;
            return Ok(match func {
                Builtin::Eye => Expr::new(Kind::Identity, vec![d.clone(), d]),
                _ => Expr::new(Kind::Ones, vec![d]),
            });
        }
        let elementwise = builtin_func(func);
        if prime > 0 && elementwise.is_none() {
            return Err(err(ErrorCode::Unsupported, format!("`{name}'` is not defined"), span)
                .hint("a prime is the derivative of an element-wise function"));
        }
        if sup.is_some() && elementwise.is_none() && !matches!(func, Builtin::Softmax | Builtin::LogSoftmax) {
            return Err(err(ErrorCode::Syntax, format!("`{name}` takes no superscript"), span));
        }
        let mut a = self.expr(&args[0])?;
        // `diag(1)` is the diagonal of a ones vector: the identity.
        if func == Builtin::Diag && is_literal_one(&args[0]) {
            a = Expr::new(Kind::Ones, vec![self.u.fresh()]);
        }
        if let Some(f) = elementwise {
            let shape = a.shape.clone();
            let e = Expr::new(Kind::Func { func: f, derivative: prime, arg: boxed(a) }, shape.clone());
            return match sup {
                None => Ok(e),
                Some(text) => {
                    let p = read_superscript_power(text, span)?;
                    if p == -BigRational::one() {
                        self.notes.push(format!(
                            "`{name}⁻¹(…)` is read as the reciprocal 1/{name}(…), not the inverse function"
                        ));
                    }
                    Ok(Expr::new(Kind::HPower(boxed(e), p), shape))
                }
            };
        }
        let arg_span = args[0].span;
        match func {
            Builtin::Trace => {
                self.square(&a, "a trace", arg_span)?;
                Ok(Expr::new(Kind::Trace(boxed(a)), vec![]))
            }
            Builtin::Det => {
                self.square(&a, "a determinant", arg_span)?;
                Ok(Expr::new(Kind::Det(boxed(a)), vec![]))
            }
            Builtin::Softmax | Builtin::LogSoftmax => {
                if a.is_scalar() {
                    return Err(err(
                        ErrorCode::Shape,
                        format!("{name} needs a vector or a tensor, not a scalar"),
                        arg_span,
                    ));
                }
                let positions = match sup {
                    None => (1..a.order()).collect(),
                    Some(text) => self.sub_positions(text, a.order(), span)?,
                };
                let s = self.softmax(a, positions)?;
                if func == Builtin::Softmax {
                    return Ok(s);
                }
                let shape = s.shape.clone();
                Ok(Expr::new(Kind::Func { func: Func::Ln, derivative: 0, arg: boxed(s) }, shape))
            }
            Builtin::Diag => match a.order() {
                1 => {
                    let d = a.shape[0].clone();
                    Ok(Expr::new(Kind::Diag(boxed(a)), vec![d.clone(), d]))
                }
                2 => {
                    self.square(&a, "diag of a matrix", arg_span)?;
                    let d = a.shape[0].clone();
                    Ok(Expr::new(Kind::Diag(boxed(a)), vec![d]))
                }
                _ => Err(err(ErrorCode::Shape, "diag takes a vector or a square matrix", arg_span)),
            },
            Builtin::Sum => Ok(Expr::new(Kind::Sum(boxed(a)), vec![])),
            Builtin::Mean => self.mean(a, arg_span),
            Builtin::Inv => {
                if a.is_scalar() {
                    return Ok(Expr::new(Kind::Inverse(boxed(a)), vec![]));
                }
                self.square(&a, "an inverse", arg_span)?;
                let shape = a.shape.clone();
                Ok(Expr::new(Kind::Inverse(boxed(a)), shape))
            }
            Builtin::LogDet => {
                self.square(&a, "a determinant", arg_span)?;
                let det = Expr::new(Kind::Det(boxed(a)), vec![]);
                Ok(Expr::new(Kind::Func { func: Func::Ln, derivative: 0, arg: boxed(det) }, vec![]))
            }
            Builtin::LogSumExp => {
                let shape = a.shape.clone();
                let exp = Expr::new(Kind::Func { func: Func::Exp, derivative: 0, arg: boxed(a) }, shape);
                let sum = Expr::new(Kind::Sum(boxed(exp)), vec![]);
                Ok(Expr::new(Kind::Func { func: Func::Ln, derivative: 0, arg: boxed(sum) }, vec![]))
            }
            Builtin::Norm => Ok(Expr::new(Kind::Norm(boxed(a)), vec![])),
            Builtin::Softplus
            | Builtin::LogSigmoid
            | Builtin::Log1p
            | Builtin::Expm1
            | Builtin::Log10
            | Builtin::Log2
            | Builtin::Cosh
            | Builtin::Sinh => Ok(written_out(func, a)),
            Builtin::Dot | Builtin::Kron => {
                let b = self.expr(&args[1])?;
                if func == Builtin::Dot {
                    self.same_shape(&a, &b, "dot", span)?;
                    Ok(Expr::new(Kind::Dot(boxed(a), boxed(b)), vec![]))
                } else {
                    let mut shape = std::mem::take(&mut a.shape);
                    a.shape = shape.clone();
                    shape.extend(b.shape.iter().cloned());
                    Ok(Expr::new(Kind::Kron(boxed(a), boxed(b)), shape))
                }
            }
            _ => unreachable!("element-wise functions handled above"),
        }
    }

    /// The size of `eye(n)`, `ones(3)`, `1_n`.
    pub(super) fn size_arg(&mut self, func: Builtin, arg: &Node, span: Span) -> Result<Dim> {
        let size = match &arg.kind {
            NodeKind::Number { value, barred: false, .. } if value.is_integer() && value.is_positive() => {
                num_traits::ToPrimitive::to_u64(&value.to_integer()).map(Dim::Int)
            }
            NodeKind::Name(name) if !name.diff && !name.bar && name.tag.is_none() && name.portion.is_none() => {
                Some(Dim::Sym(name.full()))
            }
            _ => None,
        };
        let name = builtin_name(func);
        let Some(d) = size else {
            return Err(err(
                ErrorCode::Shape,
                format!("`{name}` takes a size: a positive whole number or a name"),
                arg.span,
            )
            .hint(format!("write `{name}(n)` or `{name}(3)`, or `I` and `1` to let the size be inferred")));
        };
        if let Dim::Int(n) = d {
            if n as usize > limits::MAX_EVAL_ENTRIES {
                return Err(err(ErrorCode::Limit, format!("the size {n} is too large"), span));
            }
        }
        Ok(d)
    }

    pub(super) fn sub_positions(&mut self, text: &str, order: usize, span: Span) -> Result<Vec<usize>> {
        let groups = read_positions(text, span)?;
        let mut out = Vec::new();
        for g in groups {
            if g.positions.len() != 1 || g.bar {
                return Err(err(ErrorCode::Syntax, "sub-tensor positions are plain numbers", span));
            }
            let p = g.positions[0];
            if p == 0 || p >= order + 1 || out.contains(&p) {
                return Err(err(
                    ErrorCode::Shape,
                    format!("position {p} is out of range or repeated: the argument has {order} dims"),
                    span,
                ));
            }
            out.push(p);
        }
        if out.len() >= order {
            return Err(err(ErrorCode::Shape, "the positions leave no dims for the function to act on", span)
                .hint("`s^1(A)` applies softmax to each row of a matrix"));
        }
        Ok(out)
    }

    pub(super) fn softmax(&mut self, a: Expr, positions: Vec<usize>) -> Result<Expr> {
        let mut shape: Shape = positions.iter().map(|&p| a.shape[p - 1].clone()).collect();
        for (k, d) in a.shape.iter().enumerate() {
            if !positions.contains(&(k + 1)) {
                shape.push(d.clone());
            }
        }
        Ok(Expr::new(Kind::Softmax { positions, arg: boxed(a) }, shape))
    }

    pub(super) fn sub_call(
        &mut self,
        name: &NameRef,
        name_span: Span,
        positions: &str,
        arg: &Node,
        span: Span,
    ) -> Result<Expr> {
        let full = name.full();
        let declared_function = self.functions.contains(&full);
        let softmax = full == "s" && !self.decls.contains_key("s") && !self.vars.contains_key("s");
        if softmax || declared_function {
            let a = self.expr(arg)?;
            let positions = self.sub_positions(positions, a.order(), span)?;
            if softmax {
                return self.softmax(a, positions);
            }
            // An element-wise function applied to sub-tensors is element-wise; only the
            // order of dims changes.
            let mut perm: Vec<usize> = positions.iter().map(|p| p - 1).collect();
            perm.extend((0..a.order()).filter(|k| !positions.contains(&(k + 1))));
            let shape = a.shape.clone();
            let f = Expr::new(Kind::Func { func: Func::Declared(full), derivative: 0, arg: boxed(a) }, shape);
            let shape = perm.iter().map(|&p| f.shape[p].clone()).collect();
            return Ok(Expr::new(Kind::Permute(boxed(f), perm), shape));
        }
        // Not a function: `λ^2(A + B)` is a power times a parenthesised factor.
        let k = read_number(positions, name_span)?;
        let base = self.name(name, name_span)?;
        let powered = self.power(base, &k, name_span, name_span)?;
        let rest = self.expr(arg)?;
        self.product(powered, rest, name_span, arg.span).map_err(|e| e.or_span(span))
    }

    pub(super) fn einsum(&mut self, spec: &str, spec_span: Span, args: &[Node]) -> Result<Expr> {
        let bad = |msg: String| err(ErrorCode::Syntax, msg, spec_span);
        let clean: String = spec.chars().filter(|c| !c.is_whitespace()).collect();
        if clean.contains("...") || clean.contains('.') {
            return Err(bad("einsum ellipses `...` are not supported".into()).hint("name every index with a letter"));
        }
        let (inputs, output) = match clean.split_once("->") {
            Some((i, o)) => (i.to_string(), Some(o.to_string())),
            None => (clean.clone(), None),
        };
        let operands: Vec<&str> = inputs.split(',').collect();
        if operands.len() != args.len() {
            return Err(bad(format!(
                "the specification names {} operands but {} are given",
                operands.len(),
                args.len()
            ))
            .hint("write one comma-separated group of letters per operand, e.g. \"ij,jk->ik\""));
        }
        for c in clean.chars() {
            if !(c.is_alphabetic() || c == ',' || c == '-' || c == '>') {
                return Err(
                    bad(format!("`{c}` is not an index letter")).hint("indices are letters, e.g. \"ij,jk->ik\"")
                );
            }
        }
        let mut letters: IndexMap<char, usize> = IndexMap::new();
        let mut indices: Vec<Dim> = Vec::new();
        let mut factors = Vec::new();
        let mut counts: IndexMap<char, usize> = IndexMap::new();
        for (k, (letters_k, node)) in operands.iter().zip(args).enumerate() {
            let chars: Vec<char> = letters_k.chars().collect();
            // A `1` operand is a ones tensor with as many dims as it has letters.
            let e = if is_literal_one(node) {
                Expr::new(Kind::Ones, chars.iter().map(|_| self.u.fresh()).collect())
            } else {
                self.expr(node)?
            };
            if chars.len() != e.order() {
                let shown = self.u.show(&e.shape);
                return Err(bad(format!(
                    "operand {} has {} dims ({shown}) but \"{letters_k}\" names {}",
                    k + 1,
                    e.order(),
                    chars.len()
                )));
            }
            let mut slots = Vec::new();
            for (p, c) in chars.iter().enumerate() {
                *counts.entry(*c).or_insert(0) += 1;
                let id = match letters.get(c) {
                    Some(&id) => {
                        let d = indices[id].clone();
                        self.u.unify(&d, &e.shape[p], node.span).map_err(|x| {
                            err(
                                ErrorCode::Shape,
                                format!("index `{c}` has different sizes in different operands"),
                                node.span,
                            )
                            .hint(x.message)
                        })?;
                        id
                    }
                    None => {
                        letters.insert(*c, indices.len());
                        indices.push(e.shape[p].clone());
                        indices.len() - 1
                    }
                };
                slots.push(id);
            }
            factors.push(Factor { expr: e, slots });
        }
        let out_letters: Vec<char> = match output {
            Some(o) => o.chars().collect(),
            None => {
                let mut once: Vec<char> = counts.iter().filter(|(_, n)| **n == 1).map(|(c, _)| *c).collect();
                once.sort_unstable();
                once
            }
        };
        let mut output_ids = Vec::new();
        for c in out_letters {
            let Some(&id) = letters.get(&c) else {
                return Err(bad(format!("output index `{c}` appears in no operand")));
            };
            if output_ids.contains(&id) {
                return Err(bad(format!("output index `{c}` appears twice")));
            }
            output_ids.push(id);
        }
        let shape = output_ids.iter().map(|&i| indices[i].clone()).collect();
        let net = Network { factors, indices, output: output_ids, origin: Origin::Einsum(spec.to_string()) };
        Ok(Expr::new(Kind::Network(Box::new(net)), shape))
    }
}

/// The functions other tools name that are written out by the built-in ones:
/// `softplus(x) = ln(1 + exp(x))`, `logsigmoid(x) = ln(σ(x))`, `log1p(x) = ln(1 + x)`,
/// `expm1(x) = exp(x) − 1`, `log10(x) = ln(x)/ln(10)`, `log2(x) = ln(x)/ln(2)`,
/// `cosh(x) = (exp(x) + exp(−x))/2`, `sinh(x) = (exp(x) − exp(−x))/2`. Their derivatives
/// then come out classic (softplus' is σ, log-cosh's is tanh).
fn written_out(func: Builtin, a: Expr) -> Expr {
    let shape = a.shape.clone();
    let apply = |f: Func, x: Expr| Expr::new(Kind::Func { func: f, derivative: 0, arg: boxed(x) }, shape.clone());
    let one = || {
        if shape.is_empty() {
            Expr::new(Kind::Const(BigRational::one()), vec![])
        } else {
            Expr::new(Kind::Ones, shape.clone())
        }
    };
    let add = |x: Expr, y: Expr| Expr::new(Kind::Add(vec![x, y]), shape.clone());
    let neg = |x: Expr| crate::ir::build::scale(-BigRational::one(), x);
    let half = |x: Expr| crate::ir::build::scale(BigRational::new(1.into(), 2.into()), x);
    let log_base = |x: Expr, base: i64| {
        let ln_base = Expr::new(
            Kind::Func {
                func: Func::Ln,
                derivative: 0,
                arg: boxed(Expr::new(Kind::Const(BigRational::from_integer(base.into())), vec![])),
            },
            vec![],
        );
        Expr::new(Kind::DivScalar(boxed(apply(Func::Ln, x)), boxed(ln_base)), shape.clone())
    };
    match func {
        Builtin::Softplus => apply(Func::Ln, add(one(), apply(Func::Exp, a))),
        Builtin::LogSigmoid => apply(Func::Ln, apply(Func::Sigmoid, a)),
        Builtin::Log1p => apply(Func::Ln, add(one(), a)),
        Builtin::Expm1 => add(apply(Func::Exp, a), neg(one())),
        Builtin::Log10 => log_base(a, 10),
        Builtin::Log2 => log_base(a, 2),
        Builtin::Cosh => half(add(apply(Func::Exp, a.clone()), apply(Func::Exp, neg(a)))),
        Builtin::Sinh => half(add(apply(Func::Exp, a.clone()), neg(apply(Func::Exp, neg(a))))),
        _ => unreachable!("only the written-out functions"),
    }
}
