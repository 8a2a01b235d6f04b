//! A program's statements, in order: expressions, definitions, facts and queries.

use super::*;

/// An error for a declaration or definition of `I`: it is the identity in every input,
/// and an answer holding both would print them alike (`I + I`).
pub(super) fn reserved(name: &str, span: Span) -> Result<()> {
    if name != "I" {
        return Ok(());
    }
    Err(err(ErrorCode::Unsupported, "`I` is the identity matrix; a name cannot take it".to_string(), span)
        .hint("pick another name; the identity of size n is written `I` or `I_n`"))
}

impl Elab {
    pub(super) fn run(&mut self, input: &Input) -> Result<()> {
        for s in &input.statements {
            if let Statement::Declaration(d) = s {
                self.declare(d)?;
            }
        }
        for s in &input.statements {
            match s {
                Statement::Declaration(_) => {}
                Statement::Expr(n) => {
                    let e = self.expr(n)?;
                    self.exprs.push(e);
                }
                Statement::Equation { lhs, rhs, span } => self.equation(lhs, rhs, *span)?,
                Statement::Grad { expr, wrt, .. } => {
                    let e = self.expr(expr)?;
                    for (name, span) in wrt {
                        // A tensor declared and not used yet has a zero gradient, as in
                        // `--wrt` (its shape is read below, with the other unused ones).
                        let declared = self.decls.get(name).is_some_and(|(k, _)| !matches!(k, DeclKind::Elementwise));
                        if self.vars.get(name).is_some_and(|v| v.defined) {
                            return Err(err(
                                ErrorCode::Unsupported,
                                format!(
                                    "`{name}` is defined by `{name} = …`; differentiate by the variables it is made of"
                                ),
                                *span,
                            )
                            .hint("name declared variables after `wrt`"));
                        }
                        if !self.vars.contains_key(name) && !declared {
                            return Err(err(
                                ErrorCode::Unknown,
                                format!("`{name}` does not occur before this query"),
                                *span,
                            )
                            .hint("name a variable the function depends on"));
                        }
                    }
                    let wrt = wrt.iter().map(|(n, _)| n.clone()).collect();
                    self.queries.push(Query { expr: e, wrt });
                }
            }
        }
        // Declared tensors that nothing uses still have a shape (and a zero gradient).
        let unused: Vec<(String, Span)> = self
            .decls
            .iter()
            .filter(|(n, (k, _))| !self.vars.contains_key(*n) && !matches!(k, DeclKind::Elementwise))
            .map(|(n, (_, span))| (n.clone(), *span))
            .collect();
        for (name, span) in unused {
            self.var_shape(&name, span)?;
        }
        Ok(())
    }

    fn equation(&mut self, lhs: &Node, rhs: &Node, span: Span) -> Result<()> {
        if let NodeKind::Name(name) = &lhs.kind {
            // `dr = r ⊙ r` read as written would state a fact about the differential of r,
            // and `sum(dr)` would be that differential: a gradient of 0, silently.
            if name.diff && !name.bar && name.tag.is_none() {
                let full = name.full();
                return Err(err(
                    ErrorCode::Unsupported,
                    format!("`d{full}` reads as the differential of `{full}`, which a program does not define"),
                    lhs.span,
                )
                .hint(format!("pick a name that does not start with d, such as `{full}2` or `{full}_sq`")));
            }
            if !name.diff && !name.bar && name.tag.is_none() {
                let full = name.full();
                if let Some(first) = self.defined_at.get(&full) {
                    let (line, _) = crate::error::line_col(&self.source, first.start);
                    return Err(err(ErrorCode::Unsupported, format!("`{full}` is defined twice"), lhs.span)
                        .hint(format!("the first definition is on line {line}; each name is defined once")));
                }
                if self.vars.contains_key(&full) || self.decls.contains_key(&full) {
                    // Declared: the name is taken. Used: the definition comes too late.
                    let hint = if self.decls.contains_key(&full) {
                        "pick a new name for the definition".to_string()
                    } else {
                        format!("move `{full} = …` above the first line that uses `{full}`, or pick a new name")
                    };
                    return Err(err(
                        ErrorCode::Unknown,
                        format!("`{full}` is already declared or used; a definition must come first"),
                        lhs.span,
                    )
                    .hint(hint));
                }
                reserved(&full, lhs.span)?;
                // `exp = X Xᵀ`: `exp x` would apply the function, not the name.
                if crate::ir::ast::Builtin::from_name(&full).is_some() {
                    return Err(err(
                        ErrorCode::Unsupported,
                        format!("`{full}` is a function's name; a definition cannot take it"),
                        lhs.span,
                    )
                    .hint("pick another name for the definition"));
                }
                // `s = tanh(W s + U x)`: a state update, but a program defines each name
                // once, from names before it (read as written, `s` would be a new input
                // equal to a function of itself).
                if let Some(span) = occurrence(rhs, &full) {
                    return Err(err(ErrorCode::Unsupported, format!("`{full}` is used in its own definition"), span)
                        .hint(format!(
                            "each name is defined once, from names before it; for a recurrence name each step: \
                         `{full}1 = …{full}0…`, `{full}2 = …{full}1…`"
                        )));
                }
                let value = self.expr(rhs)?;
                self.vars.insert(
                    full.clone(),
                    NameInfo { shape: value.shape.clone(), symmetric: false, declared: false, defined: true },
                );
                self.defined_at.insert(full.clone(), lhs.span);
                self.definitions.push((full, value));
                return Ok(());
            }
        }
        let (l, r) = (self.expr(lhs)?, self.expr(rhs)?);
        let r = self.broadcast_one(rhs, r, &l.shape, spread::Role::Added);
        self.u.unify_shapes(&l.shape, &r.shape, span)?;
        // `1ᵀy = 1` and `sum(y) = 1` say what `yᵀ1 = 1` says: all three are facts.
        if let (Some(y), Kind::Const(c)) = (sum_of_vector(&l), &r.kind) {
            let shape = y.shape.clone();
            let ones = Expr::new(Kind::Ones, shape.clone());
            let row = |v: Expr| Expr::new(Kind::Transpose(boxed(v)), vec![Dim::Iota, shape[0].clone()]);
            let forms = [
                Expr::new(Kind::Product(boxed(row(y.clone())), boxed(ones.clone())), vec![]),
                Expr::new(Kind::Product(boxed(row(ones)), boxed(y.clone())), vec![]),
                Expr::new(Kind::Sum(boxed(y.clone())), vec![]),
            ];
            for form in forms {
                if !self.facts.iter().any(|(a, _)| *a == form) {
                    self.facts.push((form, Expr::new(Kind::Const(c.clone()), vec![])));
                }
            }
            return Ok(());
        }
        self.facts.push((l, r));
        Ok(())
    }
}
