"""The engines' arithmetic over the kinds' rules: the planner's rows (rows.py), totals, fit (misfits,
fixes, input sizes), receptive fields at merges, the storages autograd keeps, and compiled sweeps
(traced.py). What a layer computes lives with its kind (cnncalc.kinds); the memory simulations in
cnncalc.simulate."""
