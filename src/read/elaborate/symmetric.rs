//! What a model knows to be symmetric: names declared so, and names defined as
//! symmetric forms.

use super::Model;

impl Model {
    /// Every name known to be a symmetric matrix: declared so, or defined as a symmetric
    /// form ([`Model::symmetric_definitions`]).
    pub fn symmetric_names(&self) -> indexmap::IndexSet<String> {
        let mut out: indexmap::IndexSet<String> =
            self.names.iter().filter(|(_, i)| i.symmetric).map(|(n, _)| n.clone()).collect();
        out.extend(self.symmetric_definitions());
        out
    }

    /// The defined names whose definitions are symmetric matrices by their form
    /// (`Σ = WWᵀ + diag(ψ)`), given the declared symmetric names and those before.
    pub fn symmetric_definitions(&self) -> indexmap::IndexSet<String> {
        let mut out = indexmap::IndexSet::new();
        for (name, e) in &self.definitions {
            let known = |n: &str| out.contains(n) || self.names.get(n).is_some_and(|i| i.symmetric);
            if e.order() == 2 && crate::ir::symmetry::is_symmetric(e, &known) {
                out.insert(name.clone());
            }
        }
        out
    }
}
