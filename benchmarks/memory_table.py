"""The README's table of training peaks: PyTorch's MemTracker, cnncalc's simulation, the notes'
x2 rule and torchinfo's estimate, on the networks `cnncalc export` writes.

    python -m venv /tmp/tiv && /tmp/tiv/bin/pip install torch==2.13.0 torchinfo numpy -e .
    /tmp/tiv/bin/python benchmarks/memory_table.py

torchinfo lives only in that environment (never in the package's dependencies). MemTracker runs
on the CPU under FakeTensorMode (the same peak as a real run); cnncalc uses the CPU rules and the
for-loop optimizer, PyTorch's default there.
"""

from __future__ import annotations

import warnings

ROWS = [("resnet18", 8, "momentum"), ("resnet18", 32, "adam"), ("resnet50", 16, "adam"),
        ("mobilenet_v2", 16, "sgd"), ("vgg16", 8, "sgd"), ("squeezenet1_0", 32, "momentum")]
MIB = 2**20


def torchinfo_estimate(source: str, batch: int) -> int:
    """torchinfo's "Estimated Total Size" (input + forward/backward pass + params), in bytes."""
    import torch
    import torchinfo

    namespace: dict = {}
    exec(compile(source, "<cnncalc export>", "exec"), namespace)
    c, h, w = namespace["INPUT_SHAPE"]
    stats = torchinfo.summary(namespace["Net"](), input_size=(batch, c, h, w), verbose=0, mode="train",
                              device=torch.device("cpu"))
    return stats.total_input + stats.total_output_bytes + stats.total_param_bytes


def main() -> None:
    warnings.simplefilter("ignore")
    import cnncalc
    from cnncalc import zoo
    from cnncalc.pytorch.export import export_design
    from cnncalc.pytorch.memory import measure_step

    print("| design | batch, optimizer | MemTracker peak | cnncalc peak | notes' x2 rule | torchinfo estimate |")
    print("|---|---|---|---|---|---|")
    for name, batch, optimizer in ROWS:
        text = zoo.path(name).read_text()
        source = export_design(text)
        measured = measure_step(source, batch=batch, optimizer=optimizer, foreach=False).peak_bytes
        memory = cnncalc.plan(text, batch=batch, optimizer=optimizer, device="cpu", foreach=False).totals.memory
        estimate = torchinfo_estimate(source, batch)

        def cell(n: int) -> str:
            return f"{n / MIB:,.1f} MiB ({(n - measured) / measured:+.1%})"

        print(f"| {name} | {batch}, {optimizer} | {measured / MIB:,.1f} MiB | {cell(memory.training_peak_bytes)} | "
              f"{cell(memory.training_bytes)} | {cell(estimate)} |")


if __name__ == "__main__":
    main()
