//! Which of a model's definitions an expression reads.

use super::Model;
use crate::ir::expr::Expr;

impl Model {
    /// The definitions `e` reads, directly or through others, in the program's order
    /// (`K = …` for an answer written with `K⁻¹`).
    pub fn definitions_read(&self, e: &Expr) -> Vec<&(String, Expr)> {
        let mut needed: std::collections::HashSet<String> = e.names().into_iter().collect();
        let mut used = vec![false; self.definitions.len()];
        for (k, (name, value)) in self.definitions.iter().enumerate().rev() {
            if needed.contains(name) {
                used[k] = true;
                needed.extend(value.names());
            }
        }
        self.definitions.iter().zip(used).filter(|(_, u)| *u).map(|(d, _)| d).collect()
    }
}
