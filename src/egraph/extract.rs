//! The cheapest term of each class: egg's greedy extraction, step for step, on arrays.
//!
//! egg's `Extractor` keeps its costs in a hash map by class id and clones the best node
//! of a class at each improvement; its passes were a seventh of a Hessian's time, most
//! of them the plateau's checks (`plateau`). This one makes the same passes over the
//! classes in the same order, takes a node only where it is strictly cheaper, and breaks
//! ties to the first node of a class as egg does, so every cost and term is egg's. (The
//! order matters: the cost's last keys are not monotone in the children's, so among
//! equal costs the one found first decides its parents'.)

use super::language::{Node, Tables};
use egg::{CostFunction, Id, Language, RecExpr};

/// The best cost and node of every class of an e-graph.
pub(super) struct Extracted<'a, CF: CostFunction<Node>> {
    egraph: &'a egg::EGraph<Node, Tables>,
    /// For each class id (canonical), its slot in `best`.
    slot: Vec<u32>,
    /// For each class in `egraph.classes()` order: its cost and the index of its node.
    best: Vec<Option<(CF::Cost, usize)>>,
    /// The classes, in that order.
    classes: Vec<&'a egg::EClass<Node, super::language::Data>>,
}

const NONE: u32 = u32::MAX;

impl<'a, CF: CostFunction<Node>> Extracted<'a, CF> {
    /// Runs the extraction.
    pub(super) fn new(egraph: &'a egg::EGraph<Node, Tables>, mut cost: CF) -> Self {
        let classes: Vec<_> = egraph.classes().collect();
        let most = classes.iter().map(|c| usize::from(c.id)).max().map_or(0, |m| m + 1);
        let mut slot = vec![NONE; most];
        for (k, c) in classes.iter().enumerate() {
            slot[usize::from(c.id)] = k as u32;
        }
        let mut best: Vec<Option<(CF::Cost, usize)>> = vec![None; classes.len()];
        let at = |slot: &[u32], id: Id| slot.get(usize::from(egraph.find(id))).copied().unwrap_or(NONE);
        // The classes each class's nodes point to; a class none of whose children has
        // changed since it was last looked at would give the same pass again, and is
        // skipped (most of the passes after the first few).
        let children: Vec<Vec<u32>> = classes
            .iter()
            .map(|class| {
                let mut kids: Vec<u32> =
                    class.iter().flat_map(|n| n.children().iter().map(|&c| at(&slot, c))).collect();
                kids.sort_unstable();
                kids.dedup();
                kids
            })
            .collect();
        // Updates so far; the update at which each class last changed, and the count
        // when each was last looked at.
        let mut step = 0u64;
        let mut changed_at = vec![0u64; classes.len()];
        let mut seen_at: Vec<Option<u64>> = vec![None; classes.len()];
        let mut changed = true;
        while changed {
            changed = false;
            for (k, class) in classes.iter().enumerate() {
                if let Some(seen) = seen_at[k] {
                    if children[k].iter().all(|&c| c == NONE || changed_at[c as usize] <= seen) {
                        continue;
                    }
                }
                seen_at[k] = Some(step);
                // The first node of least cost among those whose children all have one.
                let mut pass: Option<(CF::Cost, usize)> = None;
                for (n, node) in class.iter().enumerate() {
                    let ready = node.all(|c| {
                        let s = at(&slot, c);
                        s != NONE && best[s as usize].is_some()
                    });
                    if !ready {
                        continue;
                    }
                    let c = cost
                        .cost(node, |c| best[at(&slot, c) as usize].as_ref().expect("a child with a cost").0.clone());
                    let cheaper = match &pass {
                        None => true,
                        Some((p, _)) => c.partial_cmp(p).expect("costs are ordered") == std::cmp::Ordering::Less,
                    };
                    if cheaper {
                        pass = Some((c, n));
                    }
                }
                let Some(new) = pass else { continue };
                let better = match &best[k] {
                    None => true,
                    Some((old, _)) => new.0 < *old,
                };
                if better {
                    best[k] = Some(new);
                    step += 1;
                    changed_at[k] = step;
                    changed = true;
                }
            }
        }
        Extracted { egraph, slot, best, classes }
    }

    /// The slot of `id`'s class, with its cost and best node.
    fn entry(&self, id: Id) -> (usize, &(CF::Cost, usize)) {
        let s = self.slot[usize::from(self.egraph.find(id))] as usize;
        (s, self.best[s].as_ref().expect("every class has a cost"))
    }

    /// The cost of the cheapest term of `id`'s class.
    pub(super) fn cost(&self, id: Id) -> CF::Cost {
        self.entry(id).1 .0.clone()
    }

    fn node(&self, id: Id) -> &Node {
        let (s, (_, n)) = self.entry(id);
        &self.classes[s].nodes[*n]
    }

    /// The cheapest term of `id`'s class, with its cost.
    pub(super) fn best(&self, id: Id) -> (CF::Cost, RecExpr<Node>) {
        let cost = self.cost(id);
        (cost, self.node(id).build_recexpr(|c| self.node(c).clone()))
    }
}
