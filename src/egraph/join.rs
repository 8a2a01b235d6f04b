//! A searcher for left sides whose two operands share a variable, such as the factoring
//! rules `?A ?B − ?A ?C` or `−(?s ?A) + ?s ?B`: it matches each operand on its own, once
//! per class, and joins the two lists on the shared variables.
//!
//! egg's pattern machine matches such a side as nested loops: for every sum, every
//! product of its first term, then every product of its second, comparing `?A`. Sums
//! gather many bracketings of their terms, and the same terms recur in many sums, so
//! on a large e-graph those loops were half of all search (the Gaussian likelihood by
//! its covariance: 33 of 70 ms). Here each operand's matches are found once per class
//! and a hash join pairs them, which finds the same matches.
//!
//! Every rule's left side is searched through here, and every search first passes over
//! the classes where no match can be rooted: each class's analysis carries the set of
//! its nodes' operators (`Data::ops`), and a class none of whose nodes has operands
//! holding the operators the pattern puts there, two levels down, is not searched. The
//! matches, and their order, are egg's.

use super::{EGraph, Node, Tables};
type EClass = egg::EClass<Node, super::language::Data>;
use egg::{ENodeOrVar, Id, Language, Pattern, PatternAst, RecExpr, SearchMatches, Searcher, Subst, Var};
use std::borrow::Cow;
use std::collections::HashMap;

/// Below this many classes egg's nested loops are cheaper than filling the caches.
const JOIN_FROM: usize = 400;

/// A left side searched as a join of its two operands where they share a variable, and
/// as egg's pattern otherwise.
pub struct Joined {
    /// The left side as read; compiled on first search (a process that never searches
    /// with a rule, as most one-shot queries leave most rules, never compiles it: that
    /// was a third of each process's start).
    ast: PatternAst<Node>,
    /// Its variables, in the order egg's `Pattern::vars` gives them.
    vars: Vec<Var>,
    pattern: std::sync::OnceLock<Pattern<Node>>,
    /// The root's operator node, where the root is one.
    root: Option<Node>,
    /// Whether an operand of the root is an operator node (else every node of the
    /// root's operator may match, and [`Joined::may_match`] has nothing to check).
    checks: bool,
    /// Made on first use: most runs never reach [`JOIN_FROM`] classes, and compiling the
    /// operands' patterns for every rule at start-up cost each process 0.3 ms.
    split: std::sync::OnceLock<Option<Split>>,
}

/// The two operand patterns, their variables, and the variables they share.
struct Split {
    root: Node,
    left: Pattern<Node>,
    right: Pattern<Node>,
    left_vars: Vec<Var>,
    right_only: Vec<Var>,
    shared: Vec<Var>,
    /// The left operand is matched first: it has more nodes than the right.
    left_first: bool,
}

/// The subtree of `ast` at `id`, as a pattern of its own.
fn subpattern(ast: &PatternAst<Node>, id: Id) -> PatternAst<Node> {
    fn copy(ast: &PatternAst<Node>, id: Id, out: &mut PatternAst<Node>) -> Id {
        let node = ast[id].clone().map_children(|c| copy(ast, c, out));
        out.add(node)
    }
    let mut out = RecExpr::default();
    copy(ast, id, &mut out);
    out
}

impl Joined {
    /// `pattern`, joined where its root has two operands that are not bare variables and
    /// share at least one variable.
    pub fn new(ast: PatternAst<Node>) -> Joined {
        let mut vars = Vec::new();
        for n in ast.as_ref() {
            if let ENodeOrVar::Var(v) = n {
                if !vars.contains(v) {
                    vars.push(*v);
                }
            }
        }
        let root = match ast.as_ref().last() {
            Some(ENodeOrVar::ENode(root)) => Some(root.clone()),
            _ => None,
        };
        let checks =
            root.as_ref().is_some_and(|r| r.children().iter().any(|&c| matches!(ast[c], ENodeOrVar::ENode(_))));
        Joined { ast, vars, pattern: std::sync::OnceLock::new(), root, checks, split: std::sync::OnceLock::new() }
    }

    /// False where no match can be rooted in `eclass`: none of its nodes of the root's
    /// operator has operands whose classes hold the operators the pattern puts there.
    /// (A class passed over would have given no match: the search is the same.)
    /// False too in a class known to be zero, and a joined operand is never matched in
    /// one: the zero tensor is its best form, whatever else it holds. Such a class
    /// gathers every product with a zero factor, itself among them (`c·0`, `0·A`), so
    /// the matches of `?c (?C ?A)` in it grow as the square of its products: 82 000 in
    /// batch norm's gradient, a quarter of a second of search for no new form.
    fn may_match(&self, egraph: &EGraph, eclass: Id) -> bool {
        let class = &egraph[eclass];
        if class.data.zero {
            return false;
        }
        if !self.checks {
            return true;
        }
        let top = Id::from(self.ast.as_ref().len() - 1);
        may_match_at(&self.ast, top, egraph, class, MAY_MATCH_DEPTH)
    }

    /// egg's search of the whole e-graph, over the classes of the root's operator in
    /// egg's order, passing over those that cannot match.
    fn search_plain(&self, egraph: &EGraph, limit: usize) -> Vec<SearchMatches<'_, Node>> {
        let Some(root) = &self.root else { return self.pattern().search_with_limit(egraph, limit) };
        let pattern = self.pattern();
        self.over_classes(egraph, root, limit, |eclass, left| pattern.search_eclass_with_limit(egraph, eclass, left))
    }

    /// The matches `search` finds in each class of `root`'s operator that may hold one,
    /// in egg's order, at most `limit` in all (`search` is told how many are left).
    fn over_classes<'a>(
        &'a self,
        egraph: &EGraph,
        root: &Node,
        limit: usize,
        mut search: impl FnMut(Id, usize) -> Option<SearchMatches<'a, Node>>,
    ) -> Vec<SearchMatches<'a, Node>> {
        let Some(classes) = egraph.classes_for_op(&root.discriminant()) else { return vec![] };
        let mut left = limit;
        let mut out = Vec::new();
        for eclass in classes {
            if left == 0 {
                break;
            }
            if !self.may_match(egraph, eclass) {
                continue;
            }
            if let Some(m) = search(eclass, left) {
                left -= m.substs.len();
                out.push(m);
            }
        }
        out
    }

    /// The compiled pattern.
    fn pattern(&self) -> &Pattern<Node> {
        self.pattern.get_or_init(|| Pattern::new(self.ast.clone()))
    }

    /// The operands to join, where the left side has them (see [`Joined::new`]).
    fn split(&self) -> Option<&Split> {
        let pattern = self.pattern();
        self.split
            .get_or_init(|| match pattern.ast.as_ref().last() {
                Some(ENodeOrVar::ENode(root)) if root.children().len() == 2 => {
                    let (a, b) = (root.children()[0], root.children()[1]);
                    let operand = |id: Id| matches!(pattern.ast[id], ENodeOrVar::ENode(_));
                    if operand(a) && operand(b) {
                        let left = Pattern::new(subpattern(&pattern.ast, a));
                        let right = Pattern::new(subpattern(&pattern.ast, b));
                        let left_vars = left.vars();
                        let right_vars = right.vars();
                        let shared: Vec<Var> = right_vars.iter().filter(|v| left_vars.contains(v)).copied().collect();
                        let right_only = right_vars.iter().filter(|v| !left_vars.contains(v)).copied().collect();
                        let nodes = |p: &Pattern<Node>| {
                            p.ast.as_ref().iter().filter(|n| matches!(n, ENodeOrVar::ENode(_))).count()
                        };
                        let left_first = nodes(&left) > nodes(&right);
                        (!shared.is_empty()).then(|| Split {
                            root: root.clone(),
                            left,
                            right,
                            left_vars,
                            right_only,
                            shared,
                            left_first,
                        })
                    } else {
                        None
                    }
                }
                _ => None,
            })
            .as_ref()
    }
}

/// How deep [`may_match_at`] looks below the root: over the 378 test queries in one
/// batch, 1 level took 1.45 s, 2 levels 1.41 s, 3 levels 1.40 s (from 1.58 s without).
const MAY_MATCH_DEPTH: usize = 2;

/// False where no term of `eclass` can match the pattern node `p` of `ast`, judged by the
/// operators of the classes down to `depth` levels (variables and numbers' values not
/// compared): a necessary condition for a match, never a sufficient one.
fn may_match_at(ast: &PatternAst<Node>, p: Id, egraph: &EGraph, eclass: &EClass, depth: usize) -> bool {
    let ENodeOrVar::ENode(want) = &ast[p] else { return true };
    // (egg's own walk over a class's nodes of one operator: a binary search in a large
    // class. Each operand's class is looked up once: egg's lookup hashes.)
    eclass
        .for_each_matching_node(want, |n| {
            let fits = n.children().iter().zip(want.children()).all(|(&c, &q)| match &ast[q] {
                ENodeOrVar::Var(_) => true,
                ENodeOrVar::ENode(m) => {
                    let class = &egraph[c];
                    class.data.ops & super::language::op_bit(m) != 0
                        && (depth <= 1 || may_match_at(ast, q, egraph, class, depth - 1))
                }
            });
            if fits {
                Err(())
            } else {
                Ok(())
            }
        })
        .is_err()
}

/// Matches of `p` in `class`, remembered for the rest of the search.
/// (None in a class known to be zero: see [`Joined::may_match`].)
fn matches<'a>(cache: &'a mut HashMap<Id, Vec<Subst>>, p: &Pattern<Node>, egraph: &EGraph, class: Id) -> &'a [Subst] {
    cache.entry(class).or_insert_with(|| {
        if egraph[class].data.zero {
            return Vec::new();
        }
        p.search_eclass(egraph, class).map(|m| m.substs).unwrap_or_default()
    })
}

impl Split {
    /// The matches in `eclass`, at most `limit`, with operand matches from the caches.
    fn search_class(
        &self,
        egraph: &EGraph,
        eclass: Id,
        limit: usize,
        caches: &mut (HashMap<Id, Vec<Subst>>, HashMap<Id, Vec<Subst>>),
    ) -> Vec<Subst> {
        let (left_cache, right_cache) = caches;
        let mut out = Vec::new();
        for node in egraph[eclass].nodes.iter().filter(|n| n.matches(&self.root)) {
            let (a, b) = (node.children()[0], node.children()[1]);
            // The operand more likely to fail first (a sign or a number in it).
            let (left, right) = if self.left_first {
                let left = matches(left_cache, &self.left, egraph, a);
                if left.is_empty() {
                    continue;
                }
                (left, matches(right_cache, &self.right, egraph, b))
            } else {
                let right = matches(right_cache, &self.right, egraph, b);
                if right.is_empty() {
                    continue;
                }
                (matches(left_cache, &self.left, egraph, a), right)
            };
            let key = |s: &Subst| -> Vec<Id> { self.shared.iter().map(|v| s[*v]).collect() };
            let mut pairs: Vec<(&Subst, &Subst)> = Vec::new();
            if left.len() * right.len() <= 64 {
                for l in left {
                    for r in right.iter().filter(|r| self.shared.iter().all(|v| l[*v] == r[*v])) {
                        pairs.push((l, r));
                    }
                }
            } else {
                let mut by_key: HashMap<Vec<Id>, Vec<&Subst>> = HashMap::new();
                for r in right {
                    by_key.entry(key(r)).or_default().push(r);
                }
                for l in left {
                    for r in by_key.get(&key(l)).map(Vec::as_slice).unwrap_or_default() {
                        pairs.push((l, r));
                    }
                }
            }
            for (l, r) in pairs {
                if out.len() >= limit {
                    return out;
                }
                let mut s = Subst::with_capacity(self.left_vars.len() + self.right_only.len());
                for v in &self.left_vars {
                    s.insert(*v, l[*v]);
                }
                for v in &self.right_only {
                    s.insert(*v, r[*v]);
                }
                out.push(s);
            }
        }
        out
    }
}

impl Searcher<Node, Tables> for Joined {
    fn search_with_limit(&self, egraph: &EGraph, limit: usize) -> Vec<SearchMatches<'_, Node>> {
        let Some(split) = (egraph.number_of_classes() >= JOIN_FROM).then(|| self.split()).flatten() else {
            return self.search_plain(egraph, limit);
        };
        let mut caches = (HashMap::new(), HashMap::new());
        let ast = &self.pattern().ast;
        self.over_classes(egraph, &split.root, limit, |eclass, left| {
            let substs = split.search_class(egraph, eclass, left, &mut caches);
            (!substs.is_empty()).then(|| SearchMatches { eclass, substs, ast: Some(Cow::Borrowed(ast)) })
        })
    }

    fn search_eclass_with_limit(&self, egraph: &EGraph, eclass: Id, limit: usize) -> Option<SearchMatches<'_, Node>> {
        // As the whole search would: egg's loops below JOIN_FROM classes, so that a
        // class's matches come in one order however it is searched.
        let Some(split) = (egraph.number_of_classes() >= JOIN_FROM).then(|| self.split()).flatten() else {
            if !self.may_match(egraph, eclass) {
                return None;
            }
            return self.pattern().search_eclass_with_limit(egraph, eclass, limit);
        };
        let substs = split.search_class(egraph, eclass, limit, &mut (HashMap::new(), HashMap::new()));
        (!substs.is_empty()).then(|| SearchMatches { eclass, substs, ast: Some(Cow::Borrowed(&self.pattern().ast)) })
    }

    fn get_pattern_ast(&self) -> Option<&PatternAst<Node>> {
        Some(&self.pattern().ast)
    }

    fn vars(&self) -> Vec<Var> {
        self.vars.clone()
    }
}
