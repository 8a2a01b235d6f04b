//! What the extraction minimises: the size of a classic form (networks cost most), or,
//! with sizes given, its multiply-adds.

#[allow(unused_imports)]
use super::*;

// ---------------------------------------------------------------------------- cost

/// The default cost: the size of the classic expression, with a transpose or inverse of
/// a name counted as half an operation (`Aᵀ`, `X⁻ᵀ` read nearly as atoms, so that
/// `(A + Aᵀ)x` keeps its transpose on the name while `(P ⊙ Q)ᵀ1` beats `(Pᵀ ⊙ Qᵀ)1`,
/// and a transposed product slightly less than one, so `−(X⁻¹BAX⁻¹)ᵀ`, with fewer
/// operations, beats `−X⁻ᵀAᵀBᵀX⁻ᵀ`), opaque tensors as
/// their printed size and networks so dear that a classic form always wins. Ties go to
/// fewer transposes, then to fewer parentheses (`aaᵀX` over `a(aᵀX)`).
pub struct Size<'a> {
    pub(super) egraph: &'a EGraph,
}

/// A cost: size first, then transposes, then parentheses, and last the sums whose terms
/// are out of written order.
#[derive(Clone, Copy, Debug)]
pub struct Cost {
    /// Operations and atoms.
    pub size: f64,
    /// Transposes.
    pub transposes: u32,
    /// Products nested on the right.
    pub parens: u32,
    atom: bool,
    product: bool,
    scaled: bool,
    negated: bool,
    /// Sums whose terms are not in the order their names are first used (`m − x` where
    /// x came first): among forms of equal cost, the one as written wins, which
    /// is a fact of the forms, not of e-class ids (those differ between `grad`'s run and
    /// `derive`'s, with explanations, which must agree).
    inversions: u32,
    /// The rank of the form's first name by first use in the model (`Tables::written`);
    /// `u32::MAX` for none.
    first: u32,
    /// For a sum, `first` of its last term; else `first`.
    tail: u32,
    /// The least rank of any name in the form.
    least: u32,
    /// A tensor divided by a scalar, which a product prints in parentheses.
    quotient: bool,
    /// A Hadamard product, which another prints in parentheses on its right.
    hadamard: bool,
    /// A matrix made from vectors: an outer product (`xxᵀ`), or a sum, multiple,
    /// quotient, transpose or product with a matrix of one. See [`FORMED_COST`].
    outer: bool,
}

impl Cost {
    /// A cost of this size, transposes and parentheses, with no other mark.
    fn plain(size: f64, transposes: u32, parens: u32) -> Cost {
        Cost {
            size,
            transposes,
            parens,
            atom: false,
            product: false,
            scaled: false,
            negated: false,
            inversions: 0,
            first: u32::MAX,
            tail: u32::MAX,
            least: u32::MAX,
            quotient: false,
            hadamard: false,
            outer: false,
        }
    }

    /// What is compared, in order (`first` only feeds `inversions`, `quotient` parens).
    fn key(&self) -> (f64, u32, u32, bool, bool, bool, bool, u32) {
        // Sizes are sums of halves, tenths and hundredths added in different orders:
        // rounded, so that rounding noise does not decide a tie the later keys should.
        let size = (self.size * 1e6).round() / 1e6;
        (size, self.transposes, self.parens, self.atom, self.product, self.scaled, self.negated, self.inversions)
    }
}

/// Whether a run keeps its first form over a cheaper one it finds.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Prefer {
    /// No: the cheapest form wins.
    Cheapest,
    /// Where it is as cheap but for a few nodes' hundredths ([`Cost::about_as_cheap`]).
    AsCheap,
    /// Where it costs no more than a sign in front ([`Cost::as_cheap_but_a_sign`]).
    WithItsSign,
}

impl Cost {
    /// No costlier than `other` but by a few nodes' hundredths (each node adds one, so
    /// that a node costs more than its children; `a − b` holds two more nodes than
    /// `b' + a` yet is one operation as much): the same operations, and no more
    /// transposes, parentheses or terms out of order, key by key.
    pub(super) fn about_as_cheap(&self, other: &Cost) -> bool {
        let (a, b) = (self.key(), other.key());
        let rest = |k: (f64, u32, u32, bool, bool, bool, bool, u32)| (k.1, k.2, k.3, k.4, k.5, k.6, k.7);
        a.0 <= b.0 + 0.05 && rest(a) <= rest(b)
    }

    /// No costlier than `other` but by a sign in front (half a node, and its marks) and
    /// a few hundredths, with no more transposes, parentheses or terms out of order.
    pub(super) fn as_cheap_but_a_sign(&self, other: &Cost) -> bool {
        let (a, b) = (self.key(), other.key());
        a.0 <= b.0 + 0.55 && a.1 <= b.1 && a.2 <= b.2 && a.7 <= b.7
    }

    /// Cheaper than `other` by more than the bracketing of its products.
    pub(super) fn beyond_bracketing(&self, other: &Cost) -> bool {
        let (mut a, mut b) = (self.key(), other.key());
        (a.2, b.2) = (0, 0);
        a < b
    }

    /// Cheaper than `other` by more than the bracketing of its products and the order
    /// of its terms.
    pub(super) fn beyond_order(&self, other: &Cost) -> bool {
        let (mut a, mut b) = (self.key(), other.key());
        (a.2, b.2, a.7, b.7) = (0, 0, 0, 0);
        a < b
    }
}

impl PartialEq for Cost {
    fn eq(&self, other: &Cost) -> bool {
        self.key() == other.key()
    }
}

impl PartialOrd for Cost {
    fn partial_cmp(&self, other: &Cost) -> Option<std::cmp::Ordering> {
        self.key().partial_cmp(&other.key())
    }
}

/// Extra cost of a matrix made from vectors that then multiplies a vector (`xxᵀv`,
/// `(S + xxᵀ)v`) or takes a Frobenius product (`xxᵀ · A`): the matrix is n×n work
/// and memory where the same vector takes n
/// (`x(xᵀv)`, `Sv + x(xᵀv)`), which is the point of a Hessian-vector product. Enough to
/// outweigh the vector written once more in each term a sum is spread over.
pub const FORMED_COST: f64 = 4.0;

/// Cost of `a · b` for vectors `a`, `b` (see [`Size`]'s node costs).
pub const VECTOR_DOT_COST: f64 = 2.5;

/// Cost of a tensor network leaf: more than any classic form.
pub const NETWORK_COST: f64 = 1000.0;

/// Extra cost of a generalized product or a permutation over a classic operator: its
/// positions are read too, so a classic form of equal size wins.
pub const TENSOR_OPERATOR_COST: f64 = 2.0;

pub(super) fn expr_size(e: &Expr) -> f64 {
    match &e.kind {
        Kind::Network(n) => NETWORK_COST + n.factors.iter().map(|f| expr_size(&f.expr)).sum::<f64>(),
        Kind::Gen { lhs, rhs, .. } => 1.0 + TENSOR_OPERATOR_COST + expr_size(lhs) + expr_size(rhs),
        Kind::Permute(x, _) => 1.0 + TENSOR_OPERATOR_COST + expr_size(x),
        _ => 1.0 + e.children().iter().map(|c| expr_size(c)).sum::<f64>(),
    }
}

impl CostFunction<Node> for Size<'_> {
    type Cost = Cost;
    fn cost<C>(&mut self, enode: &Node, mut costs: C) -> Cost
    where
        C: FnMut(Id) -> Cost,
    {
        // Every node costs strictly more than each of its children, so extraction can
        // never choose a cycle (a class holding its own product, as b = Ib).
        // Every node of the language has at most two children: no allocation per node
        // and pass (the extractor's passes are a tenth of a small run).
        let children = enode.children();
        let mut buf = [Cost::plain(0.0, 0, 0); 2];
        let many: Vec<Cost>;
        let kids: &[Cost] = if children.len() <= 2 {
            for (slot, &k) in buf.iter_mut().zip(children) {
                *slot = costs(k);
            }
            &buf[..children.len()]
        } else {
            many = children.iter().map(|&k| costs(k)).collect();
            &many
        };
        let mut c = self.node_cost(enode, kids);
        c.size += 0.01;
        c.outer = self.formed(enode, kids);
        if let Node::Mul([a, b]) = enode {
            let row = |s: &Shape| s.len() == 2 && s[0] == Dim::Iota;
            if (kids[0].outer && self.egraph[*b].data.shape.len() == 1)
                || (kids[1].outer && row(&self.egraph[*a].data.shape))
            {
                c.size += FORMED_COST;
            }
        }
        // And an outer product in a Frobenius product: `(x − m)(x − m)ᵀ · S⁻¹` is
        // `(x − m)ᵀS⁻¹(x − m)` (a sum that holds one, `B · (A + xyᵀ)`, stays).
        if let Node::Dot([a, b]) = enode {
            if self.outer_product(*a) || self.outer_product(*b) {
                c.size += FORMED_COST;
            }
        }
        // An exponent's sign is part of the superscript, not an operation: `X⁻²`.
        if let Node::Power([_, e]) | Node::HPower([_, e]) = enode {
            if self.egraph[*e].data.constant.as_ref().is_some_and(|k| k.is_negative() && !minus_one(k)) {
                c.size -= 0.5;
            }
        }
        c.first = match enode {
            Node::Leaf(k) => {
                k.0.strip_prefix("v:")
                    .and_then(|name| self.egraph.analysis.written.get_index_of(name))
                    .map_or(u32::MAX, |i| i as u32)
            }
            _ => kids.iter().map(|k| k.first).find(|&f| f != u32::MAX).unwrap_or(u32::MAX),
        };
        let sum = matches!(enode, Node::Add(_));
        c.tail = if sum { kids[1].tail } else { c.first };
        c.least = kids.iter().map(|k| k.least).fold(c.first, u32::min);
        // A term whose first name comes before the last term's of what precedes it; and
        // a trace of a product that does not open with its first-written name, among
        // the rotations of it that were written (`trace-cycle`).
        c.inversions = kids.iter().map(|k| k.inversions).sum::<u32>()
            + u32::from(sum && kids[0].tail != u32::MAX && kids[1].first < kids[0].tail)
            + u32::from(matches!(enode, Node::Trace(_)) && kids[0].first != kids[0].least);
        c
    }
}

impl Size<'_> {
    /// Whether the class holds a column times a row, neither of them ones.
    fn outer_product(&self, id: Id) -> bool {
        let data = |c: &Id| &self.egraph[*c].data;
        self.egraph[id].nodes.iter().any(|n| match n {
            Node::Mul([a, b]) => {
                let (sa, sb) = (&data(a).shape, &data(b).shape);
                sa.len() == 1 && sb.len() == 2 && sb[0] == Dim::Iota && !data(a).ones && !data(b).ones
            }
            _ => false,
        })
    }

    /// Whether `enode` is a matrix made from vectors (`Cost::outer`). A vector of ones
    /// does not make one: `1bᵀ` is a broadcast, written so.
    fn formed(&self, enode: &Node, kids: &[Cost]) -> bool {
        let data = |c: &Id| &self.egraph[*c].data;
        match enode {
            Node::Mul([a, b]) => {
                let (sa, sb) = (&data(a).shape, &data(b).shape);
                if sa.len() == 1 && sb.len() == 2 && sb[0] == Dim::Iota {
                    !data(a).ones && !data(b).ones
                } else {
                    // Times a scalar or a matrix (`xxᵀS`), it is one still.
                    let other = |s: &Shape| s.is_empty() || (s.len() == 2 && s[0] != Dim::Iota);
                    (kids[0].outer && other(sb)) || (kids[1].outer && other(sa))
                }
            }
            Node::Add(_) => kids[0].outer || kids[1].outer,
            Node::Div([a, _]) if !data(a).shape.is_empty() => kids[0].outer,
            Node::Transpose(_) => kids[0].outer,
            _ => false,
        }
    }

    fn node_cost(&mut self, enode: &Node, kids: &[Cost]) -> Cost {
        let sum = |extra: f64| kids.iter().map(|k| k.size).sum::<f64>() + extra;
        let transposes: u32 = kids.iter().map(|k| k.transposes).sum();
        let parens: u32 = kids.iter().map(|k| k.parens).sum();
        let base = Cost::plain(0.0, transposes, parens);
        match enode {
            Node::Leaf(k) => {
                let size = match self.egraph.analysis.leaves.get(&k.0) {
                    Some(e) if !matches!(e.kind, Kind::Var(_) | Kind::Diff(_) | Kind::Ones | Kind::Identity) => {
                        expr_size(e)
                    }
                    _ => 1.0,
                };
                Cost { size, atom: true, ..base }
            }
            // A sign is simpler than a number: `2(Vh − y)` over `2Vh − 2y`.
            Node::Num(c) if minus_one(c) => Cost { size: 0.5, atom: true, negated: true, ..base },
            // A sum reads better when it does not open with a minus (`Xw − y`), nor ends
            // with a negated ones tensor (`1 − H ⊙ H` over `H ⊙ H − 1`).
            Node::Add([a, b]) => {
                let minus_ones = self.egraph[*b].nodes.iter().any(|n| match n {
                    Node::Mul([c, o]) => {
                        self.egraph[*c].data.constant.as_ref().is_some_and(minus_one) && self.egraph[*o].data.ones
                    }
                    _ => false,
                });
                // A subtraction is one operation, as an addition is: the right term's sign
                // is the minus, so `(1/2)((n − p − 1)X − S)` beats `−(1/2)((p − n + 1)X + S)`.
                // But a −1 added is the number 1 subtracted, not a free sign (`−(s − 1)` is
                // no simpler than `1 − s`), and a −1 opening a sum is the number written
                // with its sign (`n − p − 1` over `−1 + n − p`).
                let subtracts_one = self.egraph[*b].data.constant.as_ref().is_some_and(minus_one);
                let opens_minus_one = self.egraph[*a].data.constant.as_ref().is_some_and(minus_one);
                let extra = 1.0 - if kids[1].negated { 0.5 } else { 0.0 }
                    + if subtracts_one { 1.0 } else { 0.0 }
                    + if opens_minus_one { 1.0 } else { 0.0 };
                // A name before its transpose: `A + Aᵀ`, not `Aᵀ + A`.
                let transpose_first = self.egraph[*a]
                    .nodes
                    .iter()
                    .any(|n| matches!(n, Node::Transpose(x) if self.egraph.find(*x) == self.egraph.find(*b)));
                let parens = parens + u32::from(kids[0].negated) + u32::from(minus_ones) + u32::from(transpose_first);
                Cost { size: sum(extra), parens, ..base }
            }
            // A sign inside a Hadamard product reads worse than one outside: `−(H ⊙ H)`.
            // `M ⊙ M ⊙ R` over `M ⊙ (M ⊙ R)`: equal in size, tied until now by class order.
            Node::Hadamard(_) => Cost {
                size: sum(1.0),
                // And a number right of `⊙` reads as part of its left: `2B ⊙ A` over `A ⊙ 2B`.
                parens: parens
                    + u32::from(kids[0].negated)
                    + u32::from(kids[1].negated)
                    + u32::from(kids[1].hadamard)
                    + u32::from(kids[1].scaled),
                hadamard: true,
                ..base
            },
            // A negative number is a sign too, where a sign reads worse (inside `⊙`), and
            // the sign is written: `−(1/2)(a + b)` is no simpler than `(1/2)(−a − b)`
            // (a sum's right term and an exponent do not pay for it).
            Node::Num(c) => {
                Cost { size: if c.is_negative() { 1.5 } else { 1.0 }, atom: true, negated: c.is_negative(), ..base }
            }
            Node::Fun(_) => Cost { size: 1.0, atom: true, ..base },
            // The reciprocal of a scalar expression, even of a name or a power, reads as
            // `1/(…)`: `(2N)⁻¹` and `(t²)⁻¹` are no simpler.
            Node::Inverse(x) if self.egraph[*x].data.shape.is_empty() => Cost { size: sum(2.05), ..base },
            Node::Transpose(_) | Node::Inverse(_) | Node::Power(_) if kids[0].atom => Cost {
                size: sum(if matches!(enode, Node::Transpose(_)) { 0.5 } else { 0.0 }),
                atom: true,
                transposes: transposes + u32::from(matches!(enode, Node::Transpose(_))),
                // `X⁻ᵀ` reads better than the equal `Xᵀ⁻¹`.
                parens: parens + u32::from(!matches!(enode, Node::Transpose(_)) && kids[0].transposes > 0),
                ..base
            },
            // One transpose over a product is one operation, a transpose on each factor
            // is one each: `−(X⁻¹BAX⁻¹)ᵀ` has fewer operations than `−X⁻ᵀAᵀBᵀX⁻ᵀ`,
            // and `BᵀA` (one transpose) still beats `(AᵀB)ᵀ`. Its parentheses count
            // where sizes tie, so that a quadratic form reads as one, `(x − m)ᵀS⁻¹(x − m)`
            // over `(S⁻¹(x − m))ᵀ(x − m)`; a number inside counts twice: `−Aᵀ` over `(−A)ᵀ`.
            Node::Transpose(_) => Cost {
                size: sum(1.0),
                transposes: transposes + 1,
                parens: parens + u32::from(kids[0].product || kids[0].scaled) + u32::from(kids[0].scaled),
                ..base
            },
            // A zero tensor costs one whatever it multiplies; zero times a name (`0x`,
            // which reads back with its size) is best.
            Node::Mul([a, b]) if self.egraph[*a].data.constant.as_ref().is_some_and(|c| c.is_zero()) => {
                // A name or its transpose: `0xᵀ`, not `(0x)ᵀ` printed as `0ᵀ`.
                let name =
                    |c: Id| self.egraph[c].nodes.iter().any(|n| matches!(n, Node::Leaf(k) if k.0.starts_with("v:")));
                let named =
                    name(*b) || self.egraph[*b].nodes.iter().any(|n| matches!(n, Node::Transpose(x) if name(*x)));
                let size = if named { 1.0 } else { 1.5 } + kids[1].size;
                Cost { size, atom: true, scaled: true, transposes: 0, parens: 0, ..base }
            }
            // A rational coefficient costs as a number; the product sign is not written.
            // A negated sum in parentheses reads no better than a sum that ends with a
            // negated ones tensor: `2x − 1` ties `−(1 − 2x)`, and wins as unsigned.
            Node::Mul([a, b]) if self.egraph[*a].data.constant.is_some() && kids[0].atom => {
                let negated_sum = kids[0].negated && self.egraph[*b].nodes.iter().any(|n| matches!(n, Node::Add(_)));
                Cost {
                    size: sum(0.0),
                    scaled: true,
                    negated: kids[0].negated,
                    parens: parens + u32::from(negated_sum),
                    ..base
                }
            }
            Node::Mul([a, b]) => {
                let right_product = kids[1].product && !self.egraph[*b].data.shape.is_empty();
                // A number right of a tensor is written `A(−1)`, where `−A` is meant.
                let number_right = self.egraph[*b].data.constant.is_some() && !self.egraph[*a].data.shape.is_empty();
                // `Q(Kᵀ/s)` has parentheses that `QKᵀ/s` has not.
                let nested = u32::from(right_product)
                    + u32::from(kids[0].scaled)
                    + u32::from(kids[1].scaled)
                    + u32::from(kids[1].quotient)
                    + u32::from(kids[0].quotient && !self.egraph[*b].data.shape.is_empty())
                    + 2 * u32::from(number_right)
                    // A scalar name right of a tensor is a factor out of place: `εDᵀdiag(v)D`,
                    // not `Dᵀεdiag(v)D`.
                    + u32::from(
                        kids[1].atom
                            && self.egraph[*b].data.constant.is_none()
                            && self.egraph[*b].data.shape.is_empty()
                            && !self.egraph[*a].data.shape.is_empty(),
                    );
                Cost { size: sum(1.0), parens: parens + nested, product: true, negated: kids[0].negated, ..base }
            }
            // A tensor product with a scalar is scaling, written as a product: `(sᵀv)1`.
            Node::Kron([a, b]) if self.egraph[*a].data.shape.is_empty() || self.egraph[*b].data.shape.is_empty() => {
                Cost { size: sum(1.5), ..base }
            }
            // A vector's tensor product with ones reads as an outer product: `v1ᵀ` over
            // `v ⊗ 1`. (Other vectors keep `⊗`: `u ⊗ v ⊗ w` is a 3-tensor, and beats
            // `uvᵀ ⊗ w`.)
            Node::Kron([a, b])
                if self.egraph[*a].data.shape.len() == 1
                    && self.egraph[*b].data.shape.len() == 1
                    && (self.egraph[*a].data.ones || self.egraph[*b].data.ones) =>
            {
                Cost { size: sum(2.0), ..base }
            }
            // A quotient of a quotient reads as `A/s/n`, with parentheses to be sure of:
            // `A/(ns)` over it.
            Node::Div([a, _]) if !self.egraph[*a].data.shape.is_empty() => Cost {
                size: sum(1.0),
                quotient: true,
                negated: kids[0].negated,
                parens: parens + u32::from(kids[0].quotient),
                ..base
            },
            // A derivative `f'` reads as less simple than a named function; and where the
            // rules write it out by reciprocals (`ln'`, `sqrt'` and theirs), less simple
            // than that: `(1/2)(1 ⊘ sqrt(x))` over `sqrt'(x)`.
            Node::Apply([f, _]) => {
                let prime = |k: &str| {
                    let base = k.trim_end_matches('\'');
                    match (k.len() - base.len(), base) {
                        (0, _) => 0.0,
                        (_, "ln" | "sqrt") => 4.0,
                        _ => 1.0,
                    }
                };
                let extra = self.egraph[*f]
                    .nodes
                    .iter()
                    .filter_map(|n| if let Node::Fun(k) = n { Some(prime(&k.0)) } else { None })
                    .fold(0.0, f64::max);
                Cost { size: sum(extra), ..base }
            }
            // A power of a determinant reads as one, `|X|²`, not as the determinant of a
            // power, `|X²|`, which a name's power (free, as an atom's superscript) would
            // make cheaper by one: here the power counts, as NumPy computes it.
            // (Of a product's power too: `|AX|²`, not `|(AX)²|`.)
            Node::Det(x) if self.egraph[*x].nodes.iter().any(|n| matches!(n, Node::Power(_))) => {
                Cost { size: sum(2.0), ..base }
            }
            // Two vectors' inner product reads as a classic product, `aᵀb`, `xᵀAx` and
            // `(x − m)ᵀS⁻¹(x − m)`, not as `Ax · x`: the dot costs as a transpose, a
            // product and one more, so the transposed form wins even over a sum.
            Node::Dot([a, _]) if self.egraph[*a].data.shape.len() == 1 => Cost { size: sum(VECTOR_DOT_COST), ..base },
            // A quotient with a negated numerator opens with its sign: `−a/s`.
            Node::Div(_) => Cost { size: sum(1.0), negated: kids[0].negated, ..base },
            _ => Cost { size: sum(1.0), ..base },
        }
    }
}

/// The FLOP cost used when sizes are given: the multiply-adds of evaluating the
/// expression in the order it is written, so that `2a(aᵀX)` wins when X is wide.
pub struct Flops<'a> {
    pub(super) egraph: &'a EGraph,
    pub(super) sizes: &'a IndexMap<String, f64>,
}

impl Flops<'_> {
    fn dim(&self, d: &Dim) -> f64 {
        match d {
            Dim::Sym(s) => self.sizes.get(s).copied().unwrap_or(100.0),
            Dim::Int(n) => *n as f64,
            Dim::Iota => 1.0,
            Dim::Var(_) => 100.0,
        }
    }
    fn entries(&self, s: &Shape) -> f64 {
        s.iter().map(|d| self.dim(d)).product()
    }
}

impl CostFunction<Node> for Flops<'_> {
    type Cost = Cost;
    fn cost<C>(&mut self, enode: &Node, mut costs: C) -> Cost
    where
        C: FnMut(Id) -> Cost,
    {
        let kids: Vec<Cost> = enode.children().iter().map(|&c| costs(c)).collect();
        let below: f64 = kids.iter().map(|k| k.size).sum();
        let shape = |i: usize| self.egraph[enode.children()[i]].data.shape.clone();
        let transposes: u32 = kids.iter().map(|k| k.transposes).sum();
        let work = match enode {
            Node::Leaf(_) | Node::Num(_) | Node::Fun(_) => 0.0,
            Node::Mul(_) => {
                let (a, b) = (shape(0), shape(1));
                if a.is_empty() || b.is_empty() {
                    self.entries(&a).max(1.0) * self.entries(&b).max(1.0)
                } else {
                    let inner = if a.len() == 2 { self.dim(&a[1]) } else { 1.0 };
                    self.entries(&a) / inner.max(1.0) * inner * self.entries(&b) / self.dim(&b[0]).max(1.0)
                }
            }
            Node::Transpose(_) => 0.0,
            Node::Inverse(_) | Node::Det(_) => self.entries(&shape(0)).powf(1.5),
            _ => enode.children().iter().map(|&c| self.entries(&self.egraph[c].data.shape)).sum::<f64>(),
        };
        let tie = u32::from(matches!(enode, Node::Transpose(_)));
        Cost::plain(below + work + 1e-3, transposes + tie, 0)
    }
}

/// Whether `c` is −1, without building −1 (the cost function asks for every sum and
/// number, on every extraction).
fn minus_one(c: &BigRational) -> bool {
    c.is_negative() && c.denom().is_one() && c.numer().magnitude().is_one()
}
