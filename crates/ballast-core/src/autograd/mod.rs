//! Reverse-mode automatic differentiation on a tape.
//!
//! Every op appends its output to the [`Tape`] together with a closure that maps the
//! gradient of that output to the gradients of its inputs. Nodes are appended after their
//! inputs, so the tape is already in topological order: [`Tape::backward`] walks it in
//! reverse and accumulates (`+=`) each input's gradient, as micrograd's `backward()` does.
//! Ops live in `crate::ops`, each gradient next to its forward.

#[cfg(test)]
pub mod gradcheck;

use crate::error::{Error, Result};
use crate::tensor::{shape_str, Tensor};

/// A value on a tape: an index, cheap to copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Var(usize);

/// Maps the gradient of a node's output to the gradients of its inputs (`None` for inputs
/// that need none). Receives the inputs' values and the output's value.
pub type BackwardFn = Box<dyn Fn(&Tensor, &[&Tensor], &Tensor) -> Vec<Option<Tensor>> + Send>;

struct Node {
    value: Tensor,
    grad: Option<Tensor>,
    inputs: Vec<Var>,
    backward: Option<BackwardFn>,
    requires_grad: bool,
    /// The layer (or other unit) that recorded this node, for time profiles.
    scope: usize,
}

/// The record of one forward pass.
pub struct Tape {
    nodes: Vec<Node>,
    grad_enabled: bool,
    scope: usize,
    /// Milliseconds of backward work per scope, filled by [`Tape::backward`].
    backward_ms: Vec<f64>,
}

impl Default for Tape {
    fn default() -> Self {
        Self::new()
    }
}

impl Tape {
    pub fn new() -> Tape {
        Tape { nodes: Vec::new(), grad_enabled: true, scope: 0, backward_ms: Vec::new() }
    }

    /// A leaf: an input or a parameter. Gradients are kept for leaves that require them.
    pub fn leaf(&mut self, value: Tensor, requires_grad: bool) -> Var {
        self.nodes.push(Node {
            value,
            grad: None,
            inputs: Vec::new(),
            backward: None,
            requires_grad,
            scope: self.scope,
        });
        Var(self.nodes.len() - 1)
    }

    /// A constant: a leaf without a gradient.
    pub fn constant(&mut self, value: Tensor) -> Var {
        self.leaf(value, false)
    }

    /// Records an op's output. The backward closure is kept only when gradients are enabled
    /// and some input needs one; otherwise the output is a constant (no-grad inference).
    pub fn push(&mut self, value: Tensor, inputs: &[Var], backward: BackwardFn) -> Var {
        let requires_grad = self.grad_enabled && inputs.iter().any(|v| self.nodes[v.0].requires_grad);
        let node = Node {
            value,
            grad: None,
            inputs: if requires_grad { inputs.to_vec() } else { Vec::new() },
            backward: requires_grad.then_some(backward),
            requires_grad,
            scope: self.scope,
        };
        self.nodes.push(node);
        Var(self.nodes.len() - 1)
    }

    pub fn value(&self, v: Var) -> &Tensor {
        &self.nodes[v.0].value
    }

    pub fn requires_grad(&self, v: Var) -> bool {
        self.nodes[v.0].requires_grad
    }

    /// The gradient accumulated for `v` by the last [`Tape::backward`], if any reached it.
    pub fn grad(&self, v: Var) -> Option<&Tensor> {
        self.nodes[v.0].grad.as_ref()
    }

    /// Takes the gradient out of the tape (avoids a copy when handing it to an optimizer).
    pub fn take_grad(&mut self, v: Var) -> Option<Tensor> {
        self.nodes[v.0].grad.take()
    }

    /// Tags the nodes recorded from now on with `scope` (a layer index), so that
    /// [`Tape::backward_ms`] can say where backward time went.
    pub fn set_scope(&mut self, scope: usize) {
        self.scope = scope;
    }

    /// Milliseconds the last backward pass spent on nodes of each scope.
    pub fn backward_ms(&self) -> &[f64] {
        &self.backward_ms
    }

    /// Whether ops record their gradients (false inside [`Tape::no_grad`]).
    pub fn grad_enabled(&self) -> bool {
        self.grad_enabled
    }

    /// Runs `f` with gradient recording off, for inference.
    pub fn no_grad<R>(&mut self, f: impl FnOnce(&mut Tape) -> R) -> R {
        let was = std::mem::replace(&mut self.grad_enabled, false);
        let out = f(self);
        self.grad_enabled = was;
        out
    }

    /// Back-propagates from a scalar `loss` (seeded with 1).
    pub fn backward(&mut self, loss: Var) -> Result<()> {
        let n = self.value(loss).len();
        if n != 1 {
            return Err(Error::shape(format!(
                "backward needs a scalar loss, got shape {}",
                shape_str(self.value(loss).shape())
            )));
        }
        let seed = Tensor::full(self.value(loss).shape(), 1.0);
        self.backward_with(loss, seed)
    }

    /// Back-propagates `grad` (the gradient of some scalar with respect to `out`).
    pub fn backward_with(&mut self, out: Var, grad: Tensor) -> Result<()> {
        if grad.shape() != self.value(out).shape() {
            return Err(Error::shape(format!(
                "backward: gradient of shape {} for a value of shape {}",
                shape_str(grad.shape()),
                shape_str(self.value(out).shape())
            )));
        }
        if !self.nodes[out.0].requires_grad {
            return Ok(());
        }
        for node in &mut self.nodes {
            node.grad = None;
        }
        self.backward_ms.clear();
        self.nodes[out.0].grad = Some(grad);
        for i in (0..=out.0).rev() {
            let Some(grad_out) = self.nodes[i].grad.take() else { continue };
            let node = &self.nodes[i];
            let Some(backward) = &node.backward else {
                self.nodes[i].grad = Some(grad_out); // a leaf keeps its gradient
                continue;
            };
            let inputs: Vec<&Tensor> = node.inputs.iter().map(|v| &self.nodes[v.0].value).collect();
            let started = crate::profile::now_ms();
            let grads = backward(&grad_out, &inputs, &node.value);
            let scope = node.scope;
            if self.backward_ms.len() <= scope {
                self.backward_ms.resize(scope + 1, 0.0);
            }
            self.backward_ms[scope] += crate::profile::now_ms() - started;
            let node = &self.nodes[i];
            debug_assert_eq!(grads.len(), node.inputs.len());
            for (var, g) in node.inputs.clone().into_iter().zip(grads) {
                let target = &mut self.nodes[var.0];
                let Some(g) = g.filter(|_| target.requires_grad) else { continue };
                debug_assert_eq!(g.shape(), target.value.shape(), "gradient shape of an input");
                match &mut target.grad {
                    Some(acc) => acc.data_mut().iter_mut().zip(g.data()).for_each(|(a, b)| *a += b),
                    None => target.grad = Some(g),
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mul(tape: &mut Tape, a: Var, b: Var) -> Var {
        let value = tape.value(a).zip_broadcast(tape.value(b), "mul", |x, y| x * y).unwrap();
        tape.push(
            value,
            &[a, b],
            Box::new(|g, inputs, _| {
                let ga = g.zip_broadcast(inputs[1], "mul", |x, y| x * y).unwrap();
                let gb = g.zip_broadcast(inputs[0], "mul", |x, y| x * y).unwrap();
                vec![Some(ga), Some(gb)]
            }),
        )
    }

    #[test]
    fn gradients_accumulate_over_shared_inputs() {
        // y = x * x * w  →  dy/dx = 2xw, dy/dw = x²
        let mut tape = Tape::new();
        let x = tape.leaf(Tensor::scalar(3.0), true);
        let w = tape.leaf(Tensor::scalar(5.0), true);
        let xx = mul(&mut tape, x, x);
        let y = mul(&mut tape, xx, w);
        tape.backward(y).unwrap();
        assert_eq!(tape.grad(x).unwrap().data(), &[30.0]);
        assert_eq!(tape.grad(w).unwrap().data(), &[9.0]);
        // A second backward starts from fresh gradients.
        tape.backward(y).unwrap();
        assert_eq!(tape.grad(x).unwrap().data(), &[30.0]);
    }

    #[test]
    fn constants_and_no_grad_record_nothing() {
        let mut tape = Tape::new();
        let x = tape.leaf(Tensor::scalar(2.0), true);
        let c = tape.constant(Tensor::scalar(4.0));
        let y = tape.no_grad(|t| mul(t, x, c));
        assert!(!tape.requires_grad(y));
        let z = mul(&mut tape, x, c);
        tape.backward(z).unwrap();
        assert_eq!(tape.grad(x).unwrap().data(), &[4.0]);
        assert!(tape.grad(c).is_none());
    }

    #[test]
    fn backward_needs_a_scalar() {
        let mut tape = Tape::new();
        let x = tape.leaf(Tensor::zeros(&[2, 2]), true);
        let err = tape.backward(x).unwrap_err();
        assert!(err.message.contains("[2, 2]"));
    }
}
