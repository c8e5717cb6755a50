"""The engines' arithmetic over the kinds' rules: fit (misfits, fixes, input sizes), receptive fields
at merges, the storages autograd keeps, the training-step simulation and its CUDA allocator, and
compiled sweeps. What a layer computes lives with its kind (cnncalc.kinds)."""
