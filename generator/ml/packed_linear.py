"""Linear layers whose weights are reordered once into oneDNN's blocked layout, for sampling in
bfloat16 on a CPU.

A decoding step of a few rows reads every weight once and does little else with it, so it runs
at the speed weights stream from memory. `F.linear` reorders a bfloat16 weight for oneDNN on each
call; a weight reordered once is read as it is (the same product inductor's freezing uses). In
bfloat16 the result is bit for bit what `F.linear` gives (tests/test_sampler_own_loop.py holds
logits and a seeded batch equal), so what a seed writes does not change. In float32 the packed
product comes from another kernel than MKL's and differs in the last bits: float32 stays as it is.
"""

from __future__ import annotations

import torch
from torch import nn

# The rows a packed weight is laid out for: pitches' few (any count computes the same product).
ROWS_HINT = 4


def packing_available(device: torch.device, dtype: torch.dtype) -> bool:
    """Whether `pack_linear_layers` applies: bfloat16 on a CPU whose oneDNN multiplies it (the
    ops are torch's private ones, which inductor uses: looked up, not assumed)."""
    mkldnn = torch.ops.mkldnn
    return (
        device.type == "cpu"
        and dtype == torch.bfloat16
        and torch.backends.mkldnn.is_available()
        and all(
            hasattr(mkldnn, op)
            for op in ("_reorder_linear_weight", "_linear_pointwise", "_is_mkldnn_bf16_supported")
        )
        and bool(mkldnn._is_mkldnn_bf16_supported())
    )


class PackedLinear(nn.Module):
    """An `nn.Linear` for inference: the same weight and bias (still there for whatever reads
    them, a tied embedding included), multiplied through a copy reordered for oneDNN."""

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.weight = linear.weight
        self.bias = linear.bias
        self.packed = torch.ops.mkldnn._reorder_linear_weight(linear.weight.detach(), ROWS_HINT)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        # The packed product has no gradient, and takes only the weight's dtype.
        if inputs.dtype != self.weight.dtype or (torch.is_grad_enabled() and inputs.requires_grad):
            return nn.functional.linear(inputs, self.weight, self.bias)
        result: torch.Tensor = torch.ops.mkldnn._linear_pointwise(
            inputs, self.packed, self.bias, "none", [], ""
        )
        return result

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, packed"


def pack_linear_layers(model: nn.Module) -> int:
    """Every `nn.Linear` of `model` replaced in place by a `PackedLinear`; returns how many."""
    replaced = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.Linear:
                setattr(parent, name, PackedLinear(child))
                replaced += 1
    return replaced
