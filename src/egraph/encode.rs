//! Typed expressions into the e-graph's language and back.

#[allow(unused_imports)]
use super::*;

// ---------------------------------------------------------------------------- encoding

/// Keys an expression's leaves and functions into `t` and writes it as egg nodes.
pub struct Encoder<'t> {
    /// The tables leaves and functions are registered in.
    pub tables: &'t mut Tables,
}

/// The leaf key of an expression that the e-graph treats as one atom.
pub fn leaf_key(e: &Expr) -> String {
    let dims = crate::ir::shape::show_shape(&e.shape);
    match &e.kind {
        Kind::Var(n) => format!("v:{n}"),
        Kind::Diff(n) => format!("d:{n}"),
        Kind::Ones => format!("1:{dims}"),
        Kind::Identity => format!("I:{dims}"),
        // Tensor operators keep their own form: as a bracket term they would share the
        // key of the network they were raised from, and never be chosen.
        Kind::Gen { .. } | Kind::Permute(..) => {
            format!("t:{dims}:{}", crate::render::render(e, crate::render::Format::Ascii))
        }
        _ => format!("x:{dims}:{}", crate::render::bracket::to_bracket(e, crate::render::Format::Ascii)),
    }
}

/// The function key of an element-wise function or a softmax.
/// The spec of a function key (the inverse of [`fun_key`]): `tanh''`, `softmax^1,2`.
pub fn fun_spec_of_key(key: &str) -> Option<FunSpec> {
    if let Some(p) = key.strip_prefix("softmax^") {
        let positions = p.split(',').filter(|x| !x.is_empty()).map(|x| x.parse().ok()).collect::<Option<_>>()?;
        return Some(FunSpec::Softmax(positions));
    }
    let name = key.trim_end_matches('\'');
    let primes = (key.len() - name.len()) as u8;
    let func = match name {
        "exp" => Func::Exp,
        "ln" => Func::Ln,
        "tanh" => Func::Tanh,
        "sigmoid" => Func::Sigmoid,
        "sqrt" => Func::Sqrt,
        "sin" => Func::Sin,
        "cos" => Func::Cos,
        "abs" => Func::Abs,
        "relu" => Func::Relu,
        "sign" => Func::Sign,
        "" => return None,
        other => Func::Declared(other.to_string()),
    };
    Some(FunSpec::Elementwise(func, primes))
}

pub fn fun_key(spec: &FunSpec) -> String {
    match spec {
        FunSpec::Elementwise(f, k) => format!("{}{}", f.name(), "'".repeat(*k as usize)),
        FunSpec::Softmax(p) => {
            let p: Vec<String> = p.iter().map(|x| x.to_string()).collect();
            format!("softmax^{}", p.join(","))
        }
    }
}

impl Encoder<'_> {
    /// Appends `e` to `rec`, giving the id of its root.
    pub fn encode(&mut self, e: &Expr, rec: &mut RecExpr<Node>) -> Id {
        let two = |s: &mut Self, a: &Expr, b: &Expr, rec: &mut RecExpr<Node>| {
            let x = s.encode(a, rec);
            let y = s.encode(b, rec);
            [x, y]
        };
        match &e.kind {
            Kind::Const(c) => rec.add(Node::Num(c.clone())),
            Kind::Add(ts) => self.sum(ts, rec),
            Kind::Scale(c, x) => {
                let n = rec.add(Node::Num(c.clone()));
                let y = self.encode(x, rec);
                rec.add(Node::Mul([n, y]))
            }
            Kind::Product(a, b) => {
                let ids = two(self, a, b, rec);
                rec.add(Node::Mul(ids))
            }
            Kind::DivScalar(a, b) => {
                let ids = two(self, a, b, rec);
                rec.add(Node::Div(ids))
            }
            Kind::Transpose(a) => {
                let x = self.encode(a, rec);
                rec.add(Node::Transpose(x))
            }
            Kind::Inverse(a) => {
                let x = self.encode(a, rec);
                rec.add(Node::Inverse(x))
            }
            Kind::Power(a, k) | Kind::HPower(a, k) => {
                let x = self.encode(a, rec);
                let n = rec.add(Node::Num(k.clone()));
                if matches!(e.kind, Kind::Power(..)) {
                    rec.add(Node::Power([x, n]))
                } else {
                    rec.add(Node::HPower([x, n]))
                }
            }
            Kind::Hadamard(a, b) => {
                let ids = two(self, a, b, rec);
                rec.add(Node::Hadamard(ids))
            }
            Kind::HDiv(a, b) => {
                let ids = two(self, a, b, rec);
                rec.add(Node::HDiv(ids))
            }
            Kind::Kron(a, b) => {
                let ids = two(self, a, b, rec);
                rec.add(Node::Kron(ids))
            }
            Kind::Dot(a, b) => {
                let ids = two(self, a, b, rec);
                rec.add(Node::Dot(ids))
            }
            Kind::Trace(a) => {
                let x = self.encode(a, rec);
                rec.add(Node::Trace(x))
            }
            Kind::Det(a) => {
                let x = self.encode(a, rec);
                rec.add(Node::Det(x))
            }
            Kind::Diag(a) => {
                let x = self.encode(a, rec);
                rec.add(Node::Diag(x))
            }
            Kind::Sum(a) => {
                let x = self.encode(a, rec);
                rec.add(Node::Sum(x))
            }
            Kind::Norm(a) => {
                let x = self.encode(a, rec);
                rec.add(Node::Norm(x))
            }
            Kind::Func { func, derivative, arg } => {
                self.apply(FunSpec::Elementwise(func.clone(), *derivative), arg, rec)
            }
            Kind::Softmax { positions, arg } => self.apply(FunSpec::Softmax(positions.clone()), arg, rec),
            _ => {
                // A tensor operator's symmetric parts lose their transposes (`Σ⁻ᵀ`), which
                // the rules cannot reach inside a leaf.
                let tidied = matches!(e.kind, Kind::Gen { .. } | Kind::Permute(..)).then(|| {
                    let symmetric = &self.tables.symmetric;
                    crate::ir::symmetry::without_symmetric_transposes(e, &|n| symmetric.contains(n))
                });
                let e = tidied.as_ref().unwrap_or(e);
                let key = leaf_key(e);
                self.tables.leaves.entry(key.clone()).or_insert_with(|| e.clone());
                rec.add(Node::Leaf(LeafName(key)))
            }
        }
    }

    /// A sum as a balanced tree of `+`, so that long sums stay shallow (extraction and
    /// matching time grow with depth); short sums nest to the left as they read.
    fn sum(&mut self, ts: &[Expr], rec: &mut RecExpr<Node>) -> Id {
        if ts.len() <= 4 {
            let mut acc = self.encode(&ts[0], rec);
            for t in &ts[1..] {
                let y = self.encode(t, rec);
                acc = rec.add(Node::Add([acc, y]));
            }
            return acc;
        }
        let (left, right) = ts.split_at(ts.len() / 2);
        let x = self.sum(left, rec);
        let y = self.sum(right, rec);
        rec.add(Node::Add([x, y]))
    }

    fn apply(&mut self, spec: FunSpec, arg: &Expr, rec: &mut RecExpr<Node>) -> Id {
        let key = fun_key(&spec);
        self.tables.funs.entry(key.clone()).or_insert(spec);
        let f = rec.add(Node::Fun(FunName(key)));
        let x = self.encode(arg, rec);
        rec.add(Node::Apply([f, x]))
    }
}

/// Reads an extracted term back as a typed expression.
pub fn decode(rec: &RecExpr<Node>, t: &Tables) -> Option<Expr> {
    let nodes = rec.as_ref();
    // Children are moved out on their last use, so long sums decode in linear time.
    let mut uses = vec![0usize; nodes.len()];
    for node in nodes {
        for &c in node.children() {
            uses[usize::from(c)] += 1;
        }
    }
    let mut out: Vec<Option<Expr>> = Vec::with_capacity(nodes.len());
    for node in nodes {
        let mut kids: Vec<Expr> = Vec::new();
        for &c in node.children() {
            let c = usize::from(c);
            uses[c] -= 1;
            let e = if uses[c] == 0 { out[c].take() } else { out[c].clone() };
            kids.push(e?);
        }
        let shapes: Vec<Shape> = kids.iter().map(|k| k.shape.clone()).collect();
        let shape = match node {
            Node::Apply(_) => {
                let Kind::Var(key) = &kids[0].kind else { return None };
                apply_shape(t.funs.get(key)?, &shapes[1])?
            }
            _ => node_shape(node, &shapes, t)?,
        };
        let mut it = kids.into_iter();
        let mut next = || it.next().map(Box::new);
        let kind = match node {
            Node::Leaf(k) => t.leaves.get(&k.0)?.kind.clone(),
            Node::Num(c) => Kind::Const(c.clone()),
            // A function key travels as a placeholder until its `app` reads it.
            Node::Fun(k) => Kind::Var(k.0.clone()),
            Node::Add(_) => {
                let mut terms = Vec::new();
                for _ in 0..2 {
                    match *next()? {
                        Expr { kind: Kind::Add(ts), .. } => terms.extend(ts),
                        other => terms.push(other),
                    }
                }
                // A sum opens with a term that is not negated where it has one:
                // `diag(s) − ssᵀ`, not `−ssᵀ + diag(s)` (the order of terms is free).
                let negative = |t: &Expr| matches!(&t.kind, Kind::Scale(c, _) if c < &BigRational::zero());
                if terms.first().is_some_and(negative) {
                    if let Some(k) = terms.iter().position(|t| !negative(t)) {
                        let t = terms.remove(k);
                        terms.insert(0, t);
                    }
                }
                Kind::Add(terms)
            }
            Node::Mul(_) => {
                let (a, b) = (next()?, next()?);
                if let Kind::Const(c) = &a.kind {
                    out.push(Some(crate::ir::build::scale(c.clone(), *b)));
                    continue;
                }
                // A negative power of a scalar times B reads as a quotient: `x/(xᵀx)³`.
                if let Kind::Power(base, k) = &a.kind {
                    if a.is_scalar() && *k < BigRational::zero() && !matches!(b.kind, Kind::Const(_)) {
                        let k = -k.clone();
                        let den = if k == BigRational::from_integer(1.into()) {
                            (**base).clone()
                        } else {
                            Expr::new(Kind::Power(base.clone(), k), vec![])
                        };
                        let shape = b.shape.clone();
                        out.push(Some(Expr::new(Kind::DivScalar(b, Box::new(den)), shape)));
                        continue;
                    }
                }
                // (cA)B reads as c(AB): `− diag(r)S`, not `+ (−diag(r))S`.
                if let Kind::Scale(c, inner) = &a.kind {
                    if !inner.is_scalar() && !b.is_scalar() {
                        let p = crate::ir::build::product((**inner).clone(), *b);
                        out.push(Some(crate::ir::build::scale(c.clone(), p)));
                        continue;
                    }
                }
                // s(c1) reads as c(s1): `− (sᵀw)1`, not `sᵀw(−1)`, which reads back as a number.
                if let Kind::Scale(c, inner) = &b.kind {
                    if a.is_scalar() && inner.kind == Kind::Ones {
                        let p = crate::ir::build::product(*a, (**inner).clone());
                        out.push(Some(crate::ir::build::scale(c.clone(), p)));
                        continue;
                    }
                }
                Kind::Product(a, b)
            }
            Node::Div(_) => Kind::DivScalar(next()?, next()?),
            Node::Transpose(_) => Kind::Transpose(next()?),
            Node::Inverse(_) => Kind::Inverse(next()?),
            Node::Power(_) | Node::HPower(_) => {
                let x = next()?;
                let Kind::Const(k) = next()?.kind else { return None };
                if matches!(node, Node::Power(_)) {
                    Kind::Power(x, k)
                } else {
                    Kind::HPower(x, k)
                }
            }
            Node::Hadamard(_) => Kind::Hadamard(next()?, next()?),
            Node::HDiv(_) => Kind::HDiv(next()?, next()?),
            Node::Kron(_) => Kind::Kron(next()?, next()?),
            Node::Dot(_) => Kind::Dot(next()?, next()?),
            Node::Trace(_) => Kind::Trace(next()?),
            Node::Det(_) => Kind::Det(next()?),
            Node::Diag(_) => Kind::Diag(next()?),
            Node::Sum(_) => Kind::Sum(next()?),
            Node::Norm(_) => Kind::Norm(next()?),
            Node::Apply(_) => {
                let f = next()?;
                let Kind::Var(key) = &f.kind else { return None };
                let arg = next()?;
                match t.funs.get(key)? {
                    FunSpec::Elementwise(func, k) => Kind::Func { func: func.clone(), derivative: *k, arg },
                    FunSpec::Softmax(p) => Kind::Softmax { positions: p.clone(), arg },
                }
            }
        };
        out.push(Some(Expr::new(kind, shape)));
    }
    out.pop().flatten()
}
