//! Rules over all variants: unique names, `implies` naming variants, no cycle in the hierarchy;
//! and the transitive closure of the hierarchy, which `satisfies` is generated from.

use super::attr::EnumModel;
use crate::internals::{Ctxt, did_you_mean};

/// For each variant, the variants it satisfies (itself included), by index; `None` when the
/// hierarchy is in error.
pub(super) fn check(model: &EnumModel<'_>, cx: &Ctxt) -> Option<Vec<Vec<usize>>> {
    let noun = model.kind.attr();
    for (i, variant) in model.variants.iter().enumerate() {
        if let Some(first) = model.variants[..i].iter().find(|v| v.name == variant.name) {
            cx.error_at(
                variant.name_span,
                format!(
                    "duplicate {noun} name `{}`: `{}` and `{}` both have it; give one of them another name with `#[{noun}(rename = \"...\")]`",
                    variant.name, first.ident, variant.ident
                ),
            );
        }
    }

    let names: Vec<String> = model.variants.iter().map(|v| v.ident.to_string()).collect();
    let mut ok = true;
    for variant in &model.variants {
        for lit in &variant.implied_names {
            ok = false;
            let given = lit.value();
            let by_name = model.variants.iter().find(|v| v.name == given).or_else(|| {
                let near = did_you_mean(&given, model.variants.iter().map(|v| v.name.as_str()))?;
                model.variants.iter().find(|v| v.name == near)
            });
            let message = match by_name {
                Some(target) => format!(
                    "`implies` names variants, not role names: write `implies({})` for the role named \"{}\"",
                    target.ident, target.name
                ),
                None => format!(
                    "`implies` names variants, not role names, and no role is named \"{given}\"; write variants of this enum: {}",
                    names
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            cx.error_spanned_by(lit, message);
        }
    }
    let mut edges: Vec<Vec<usize>> = Vec::with_capacity(model.variants.len());
    for variant in &model.variants {
        let mut targets = Vec::new();
        for implied in &variant.implies {
            let given = implied.to_string();
            match names.iter().position(|name| *name == given) {
                Some(target) if targets.contains(&target) => {
                    cx.error_spanned_by(
                        implied,
                        format!("`{given}` is listed twice in `implies`; remove one"),
                    );
                }
                Some(target) => targets.push(target),
                None => {
                    ok = false;
                    let hint = did_you_mean(&given, names.iter().map(String::as_str))
                        .map(|name| format!("did you mean `{name}`? "))
                        .unwrap_or_default();
                    cx.error_spanned_by(
                        implied,
                        format!(
                            "`{}` has no variant `{given}`; {hint}`implies` names variants of this enum: {}",
                            model.input.ident,
                            names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
                        ),
                    );
                }
            }
        }
        edges.push(targets);
    }

    for (from, edge) in find_cycles(&edges) {
        ok = false;
        let cycle = cycle_path(&edges, from, edge);
        let described = cycle
            .iter()
            .map(|&i| format!("`{}`", model.variants[i].ident))
            .collect::<Vec<_>>()
            .join(" implies ");
        let closing = &model.variants[from].implies
            [edge_index(&model.variants[from].implies, &names, edges[from][edge])];
        cx.error_spanned_by(
            closing,
            format!("role hierarchy has a cycle: {described}; remove one of these `implies`"),
        );
    }

    ok.then(|| closure(&edges))
}

/// Where in `implies` the variant with index `target` was written.
fn edge_index(implies: &[syn::Ident], names: &[String], target: usize) -> usize {
    implies
        .iter()
        .position(|ident| *ident == names[target])
        .expect("edge comes from implies")
}

/// The edges that close a cycle, as (variant, index into its edges), one per cycle found by a
/// depth-first search.
fn find_cycles(edges: &[Vec<usize>]) -> Vec<(usize, usize)> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        New,
        OnPath,
        Done,
    }
    fn visit(
        node: usize,
        edges: &[Vec<usize>],
        state: &mut [State],
        found: &mut Vec<(usize, usize)>,
    ) {
        state[node] = State::OnPath;
        for (i, &next) in edges[node].iter().enumerate() {
            match state[next] {
                State::New => visit(next, edges, state, found),
                State::OnPath => found.push((node, i)),
                State::Done => {}
            }
        }
        state[node] = State::Done;
    }
    let mut state = vec![State::New; edges.len()];
    let mut found = Vec::new();
    for node in 0..edges.len() {
        if state[node] == State::New {
            visit(node, edges, &mut state, &mut found);
        }
    }
    found
}

/// The cycle closed by edge `edge` of `from`, starting and ending at its target:
/// `[target, ..., from, target]`.
fn cycle_path(edges: &[Vec<usize>], from: usize, edge: usize) -> Vec<usize> {
    let target = edges[from][edge];
    // Shortest path target -> from by breadth-first search; it exists since the edge closes a cycle.
    let mut parent = vec![None; edges.len()];
    let mut queue = std::collections::VecDeque::from([target]);
    let mut seen = vec![false; edges.len()];
    seen[target] = true;
    while let Some(node) = queue.pop_front() {
        if node == from {
            break;
        }
        for &next in &edges[node] {
            if !seen[next] {
                seen[next] = true;
                parent[next] = Some(node);
                queue.push_back(next);
            }
        }
    }
    let mut path = vec![from];
    let mut node = from;
    while let Some(prev) = parent[node] {
        path.push(prev);
        node = prev;
    }
    path.reverse();
    path.push(target);
    path
}

/// For each node, every node reachable from it, itself included, in index order.
fn closure(edges: &[Vec<usize>]) -> Vec<Vec<usize>> {
    (0..edges.len())
        .map(|start| {
            let mut seen = vec![false; edges.len()];
            let mut stack = vec![start];
            while let Some(node) = stack.pop() {
                if !std::mem::replace(&mut seen[node], true) {
                    stack.extend(&edges[node]);
                }
            }
            (0..edges.len()).filter(|&i| seen[i]).collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closure_is_transitive_and_reflexive() {
        // Admin -> Editor -> Viewer, Guest alone.
        let edges = vec![vec![1], vec![2], vec![], vec![]];
        assert_eq!(
            closure(&edges),
            vec![vec![0, 1, 2], vec![1, 2], vec![2], vec![3]]
        );
        assert!(find_cycles(&edges).is_empty());
    }

    #[test]
    fn diamond_is_not_a_cycle() {
        let edges = vec![vec![1, 2], vec![3], vec![3], vec![]];
        assert!(find_cycles(&edges).is_empty());
        assert_eq!(closure(&edges)[0], vec![0, 1, 2, 3]);
    }

    #[test]
    fn finds_a_two_step_cycle_with_its_path() {
        let edges = vec![vec![1], vec![0]];
        let cycles = find_cycles(&edges);
        assert_eq!(cycles, vec![(1, 0)]);
        assert_eq!(cycle_path(&edges, 1, 0), vec![0, 1, 0]);
    }

    #[test]
    fn finds_a_self_cycle() {
        let edges = vec![vec![0]];
        assert_eq!(find_cycles(&edges), vec![(0, 0)]);
        assert_eq!(cycle_path(&edges, 0, 0), vec![0, 0]);
    }

    #[test]
    fn finds_a_long_cycle_behind_a_tail() {
        // 0 -> 1 -> 2 -> 3 -> 1
        let edges = vec![vec![1], vec![2], vec![3], vec![1]];
        let cycles = find_cycles(&edges);
        assert_eq!(cycles, vec![(3, 0)]);
        assert_eq!(cycle_path(&edges, 3, 0), vec![1, 2, 3, 1]);
    }
}
