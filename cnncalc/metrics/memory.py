"""Memory: the dtypes, optimizers and devices the memory rules know, and the memory totals.

A layer's output volume is stored unless the layer works in place (activations
and dropout while `inplace` is true) or is a view (FLATTEN, ID): each kind's
`stored` rule. The sum over all layers, the input included, reproduces the rows
of the notes' VGGNet table. Merges (concat, add) store their output.
"""

from __future__ import annotations

DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "int8": 1}
TRAINABLE = ("float32", "float16", "bfloat16")  # int8 is for inference: no training step is simulated
# optimizer state per parameter, in parameter-sized copies
OPTIMIZER_STATE = {"sgd": 0, "momentum": 1, "adam": 2}
DEVICES = ("cuda", "cpu")  # whose memory rules apply (dropout's mask, the CUDA allocator's blocks)
BUDGET_FOR = ("training", "inference")  # what a memory budget must hold

# What a CUDA device holds beside the caching allocator's segments: stated, overridable assumptions.
# The CUDA context (driver state and the kernels loaded so far): "around 400MB if CUDA >= 11.7 is used
# and lazy module loading enabled (default in PyTorch)" (ptrblck, pytorch/pytorch#109888; PR #86509
# measured 287,047,680 B used after a first 6 MB tensor, with lazy loading). It varies with the GPU,
# the driver and the CUDA version: measure yours as torch.cuda.mem_get_info()'s used bytes minus
# torch.cuda.memory_reserved() after a first operation.
CUDA_CONTEXT = 400 * 2**20
# cuBLASLt's workspace: 32 MiB on Hopper and later, 4 MiB on Ampere with 24 GiB or more, 1 MiB
# otherwise (PyTorch PR #120925, following the cuBLAS guide's recommendation); cuDNN's convolution
# workspaces depend on the algorithm chosen at run time and are not modelled: add them here.
CUDA_WORKSPACE = 32 * 2**20


def totals(rows: list[dict], dtype_bytes: int, batch: int, optimizer: str) -> dict:
    """The report's `totals` from its rows: sums, and memory in bytes (`totals.memory`).
    A metric a row does not support (None) is left out of its sum and named in `partial`."""
    partial = sorted({m for r in rows for m in r["unsupported"]})
    n_params = sum(r["params"] for r in rows if r["params"] is not None)
    n_buffers = sum(r["buffers"] for r in rows if r["buffers"] is not None)
    n_macs = sum(r["macs"] for r in rows if r["macs"] is not None)
    stored_elements = sum(r["activations"] for r in rows if r["memory_bytes"])
    params_bytes = n_params * dtype_bytes
    forward_image = stored_elements * dtype_bytes
    forward = forward_image * batch
    state = OPTIMIZER_STATE[optimizer]
    memory = {
        "dtype_bytes": dtype_bytes, "params_bytes": params_bytes, "buffers_bytes": n_buffers * dtype_bytes,
        "forward_bytes_per_image": forward_image, "forward_bytes": forward, "backward_bytes": forward,
        "gradients_bytes": params_bytes, "optimizer_bytes": params_bytes * state,
        "training_bytes": params_bytes * (2 + state) + n_buffers * dtype_bytes + 2 * forward,
        "saved_bytes": sum(r["saved_bytes"] for r in rows if r["saved_bytes"] is not None)}
    return {"params": n_params, "buffers": n_buffers, "macs": n_macs, "flops": 2 * n_macs,
            "activations": stored_elements, "memory": memory, "partial": partial}
