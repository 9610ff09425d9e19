"""Linear layers whose weights are recast once for sampling on a CPU: reordered into oneDNN's
blocked layout in bfloat16, or rounded to int8 for the few rows of a pitch; and linears that
read one input stacked into one product.

A decoding step of a few rows reads every weight once and does little else with it, so it runs
at the speed weights stream from memory. `F.linear` reorders a bfloat16 weight for oneDNN on each
call; a weight reordered once is read as it is (the same product inductor's freezing uses). In
bfloat16 the result is bit for bit what `F.linear` gives (tests/test_sampler_own_loop.py holds
logits and a seeded batch equal), so what a seed writes does not change. In float32 the packed
product comes from another kernel than MKL's and differs in the last bits: float32 stays as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

# The rows a packed weight is laid out for: pitches' few (any count computes the same product).
ROWS_HINT = 4


def packing_available(device: torch.device, dtype: torch.dtype) -> bool:
    """Whether `PackedLinear` applies: bfloat16 on a CPU whose oneDNN multiplies it (the
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


def int8_available(device: torch.device) -> bool:
    """Whether `Int8Linear` applies: a CPU, and torch's int8 weight-only kernel (a private op,
    the one torchao's CPU path calls: looked up, not assumed)."""
    return device.type == "cpu" and hasattr(torch.ops.aten, "_weight_int8pack_mm")


class Int8Linear(nn.Module):
    """An `nn.Linear` for sampling a few rows: each output channel's weights rounded to int8 at
    a scale of its largest magnitude over 127, multiplied with bfloat16 inputs and added to the
    float32 bias. A step of a few rows reads every weight once: a quarter of float32's bytes,
    through a kernel faster than MKL's float32 one at a few rows and slower past 16 (bench and
    held-out loss in docs/benchmarks.md). Not bit for bit anything: its own format ("int8")."""

    weight_int8: torch.Tensor
    scales: torch.Tensor

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        weight = linear.weight.detach().float()
        # Rounded to bfloat16 first, so the weights are rounded at the scale the kernel applies.
        scales = (weight.abs().amax(dim=1) / 127).clamp(min=1e-12).to(torch.bfloat16)
        rounded = torch.round(weight / scales.float()[:, None]).clamp(-127, 127)
        self.register_buffer("weight_int8", rounded.to(torch.int8).contiguous())
        self.register_buffer("scales", scales)
        self.bias = linear.bias

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        flat = inputs.reshape(-1, self.in_features).to(torch.bfloat16)
        product = torch.ops.aten._weight_int8pack_mm(flat, self.weight_int8, self.scales)
        result = product.to(inputs.dtype).reshape(*inputs.shape[:-1], self.out_features)
        return result if self.bias is None else result + self.bias

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8"


class StackedLinear(nn.Module):
    """Linears that read one input, as one product: `layer` of their weights stacked, its output
    split back into theirs. A step of a few rows makes one call instead of several. Each output
    channel is the same dot product at any width, so for packed bfloat16 and int8 the parts are
    bit for bit the separate products (tests hold both). Not for float32, whose MKL product of a
    row may change in the last bits with the shape."""

    def __init__(self, linears: Sequence[nn.Linear], layer: Callable[[nn.Linear], nn.Module]):
        super().__init__()
        if len({(linear.in_features, linear.bias is None) for linear in linears}) != 1:
            raise ValueError("stacked linears must share their input size, and all or none a bias")
        self.sizes = [linear.out_features for linear in linears]
        biases = [linear.bias.detach() for linear in linears if linear.bias is not None]
        stacked = nn.Linear(linears[0].in_features, sum(self.sizes), bool(biases), device="meta")
        stacked.weight = nn.Parameter(torch.cat([linear.weight.detach() for linear in linears]))
        if biases:
            stacked.bias = nn.Parameter(torch.cat(biases))
        self.product = layer(stacked)

    def forward(self, inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.product(inputs).split(self.sizes, dim=-1)


class StackedPart(nn.Module):
    """One linear of a `StackedLinear`, for a caller that asks for it alone (transformers'
    forward, over a prompt): the whole product, then its part."""

    def __init__(self, stacked: StackedLinear, index: int) -> None:
        super().__init__()
        self.stacked, self.index = stacked, index

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.stacked(inputs)[self.index]


def stack_linear_layers(
    module: nn.Module, names: Sequence[str], layer: Callable[[nn.Linear], nn.Module]
) -> StackedLinear:
    """`module`'s linears `names` as one `StackedLinear` of `layer`, each replaced by its part."""
    stacked = StackedLinear([getattr(module, name) for name in names], layer)
    for index, name in enumerate(names):
        setattr(module, name, StackedPart(stacked, index))
    return stacked


def replace_linear_layers(model: nn.Module, layer: Callable[[nn.Linear], nn.Module]) -> int:
    """Every `nn.Linear` of `model` replaced in place by `layer(linear)`; returns how many."""
    replaced = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.Linear:
                setattr(parent, name, layer(child))
                replaced += 1
    return replaced
