//! Which rules search in each iteration: backoff, and no search that cannot find anything
//! new.
//!
//! Backoff (as egg's `BackoffScheduler`): a rule that matches more than its limit is
//! banned for a while, and its limit and ban length double each time, so one family (such
//! as scalars moving through long Hadamard chains) cannot crowd out the rest or blow the
//! e-graph up. When an iteration changes nothing while rules are banned, the bans are
//! brought forward so that the next iteration runs the earliest of them.
//!
//! Such an idle iteration leaves the e-graph as it was; in the next one, a rule that
//! searched in full before (none of its matches held back by a ban) would find the same
//! matches, all of them applied already. It is not searched again: only the rules whose
//! bans end do any work. The e-graph grows exactly as under plain backoff.

use super::{EGraph, Node, Rewrite, Tables};
use egg::{RewriteScheduler, SearchMatches, Symbol};
use indexmap::IndexMap;

/// What the scheduler knows of one rule.
#[derive(Clone, Copy, Debug, Default)]
struct RuleStats {
    times_banned: u32,
    banned_until: usize,
    /// The last iteration in which the rule searched and all its matches were applied.
    searched_in_full: Option<usize>,
}

/// Backoff scheduling that skips searches an idle iteration made pointless.
#[derive(Debug)]
pub struct Backoff {
    match_limit: usize,
    ban_length: usize,
    stats: IndexMap<Symbol, RuleStats>,
    /// The e-graph's size (hash-cons entries, nodes, classes) when the current and the
    /// previous iteration began searching, with those iterations.
    current: Option<(usize, (usize, usize, usize))>,
    previous: Option<(usize, (usize, usize, usize))>,
    /// `BRACKET_SEARCH_DEBUG` is set: each search prints its rule, matches and µs, and
    /// each application its rule, new unions and µs.
    debug: bool,
}

impl Backoff {
    /// A scheduler that bans a rule once it matches more than `match_limit` times, for
    /// `ban_length` iterations (both doubling with each ban).
    pub fn new(match_limit: usize, ban_length: usize) -> Backoff {
        Backoff {
            match_limit,
            ban_length,
            stats: IndexMap::new(),
            current: None,
            previous: None,
            debug: std::env::var_os("BRACKET_SEARCH_DEBUG").is_some(),
        }
    }

    /// True when the iteration before `iteration` changed nothing.
    /// (The sizes are taken at an iteration's first search only: they take a pass over
    /// the classes, and the e-graph does not change while the iteration searches.)
    fn idle_before(&mut self, iteration: usize, egraph: &EGraph) -> bool {
        if self.current.map(|(i, _)| i) != Some(iteration) {
            let size = (egraph.total_size(), egraph.total_number_of_nodes(), egraph.number_of_classes());
            self.previous = self.current;
            self.current = Some((iteration, size));
        }
        matches!((self.previous, self.current), (Some((i, before)), Some((_, now))) if i + 1 == iteration && before == now)
    }
}

impl RewriteScheduler<Node, Tables> for Backoff {
    fn can_stop(&mut self, iteration: usize) -> bool {
        let next = self.stats.values().filter(|s| s.banned_until > iteration).map(|s| s.banned_until).min();
        let Some(next) = next else { return true };
        let delta = next - iteration;
        for s in self.stats.values_mut().filter(|s| s.banned_until > iteration) {
            s.banned_until -= delta;
        }
        false
    }

    fn apply_rewrite(
        &mut self,
        _iteration: usize,
        egraph: &mut EGraph,
        rewrite: &Rewrite,
        matches: Vec<SearchMatches<Node>>,
    ) -> usize {
        let started = std::time::Instant::now();
        let applied = rewrite.apply(egraph, &matches).len();
        super::clock::sync();
        if self.debug {
            eprintln!("apply {} {} {:.1}", rewrite.name, applied, started.elapsed().as_secs_f64() * 1e6);
        }
        applied
    }

    fn search_rewrite<'a>(
        &mut self,
        iteration: usize,
        egraph: &EGraph,
        rewrite: &'a Rewrite,
    ) -> Vec<SearchMatches<'a, Node>> {
        let idle = self.idle_before(iteration, egraph);
        let (match_limit, ban_length) = (self.match_limit, self.ban_length);
        let stats = self.stats.entry(rewrite.name).or_default();
        if iteration < stats.banned_until {
            return vec![];
        }
        if idle && iteration > 0 && stats.searched_in_full == Some(iteration - 1) {
            stats.searched_in_full = Some(iteration);
            return vec![];
        }
        let threshold = match_limit.checked_shl(stats.times_banned).unwrap_or(usize::MAX);
        super::clock::sync();
        let started = std::time::Instant::now();
        let matches = rewrite.search_with_limit(egraph, threshold.saturating_add(1));
        super::clock::sync();
        if self.debug {
            eprintln!("search {} {} {:.1}", rewrite.name, matches.len(), started.elapsed().as_secs_f64() * 1e6);
        }
        let total: usize = matches.iter().map(|m| m.substs.len()).sum();
        if total > threshold {
            stats.banned_until = iteration + ban_length.checked_shl(stats.times_banned).unwrap_or(usize::MAX / 2);
            stats.times_banned += 1;
            stats.searched_in_full = None;
            return vec![];
        }
        stats.searched_in_full = Some(iteration);
        matches
    }
}
