"""Activation checkpointing in the simulated step (Step.ckpt: the segment a row belongs to, run under
torch.utils.checkpoint without reentrance), measured with MemTracker:

- a checkpointed row keeps nothing in forward (what it would save beside its input and output is made
  and freed at once: its kind's `checkpointed` rule);
- the checkpoint's frame holds the segment's input through its forward and, when a row of it saved
  anything, until the backward of its first such row releases it (before that row's input gradient
  is delivered);
- the backward of the segment's last saving row starts by recomputing the segment, in training mode,
  up to its last saved tensor (early stop: the kind's `packs_after_op` says whether that tensor is
  packed before or after its operation ran).
"""

from __future__ import annotations

from ..kinds.base import CAST, NOTHING, PROMOTE
from .steps import Step, reads, records


class Checkpointing:
    """The segments of a TrainingStep and their recomputation (a mixin of simulate/step.py)."""

    def segments_of(self) -> dict:
        """Checkpointed segment -> its rows, the storage of its input and its rows that pack tensors."""
        segments: dict = {}
        for index, s in enumerate(self.steps):
            if s.ckpt is not None:
                segments.setdefault(s.ckpt, {"rows": []})["rows"].append(index)
        for seg in segments.values():
            rows = seg["rows"]
            first = self.steps[rows[0]].sids_in[0]
            seg["input"] = self.base.get(first, first)  # a split's half: the input it views
            seg["packs"] = [i for i in rows if self.packs(self.steps[i])]
        return segments

    def packs(self, s: Step) -> bool:
        """The row's backward node holds saved tensors (parameters included): unpacking them is what
        starts a checkpointed segment's recomputation."""
        return records(s) and (s.saves != NOTHING or s.item.packs_params)

    def recompute(self, seg: dict) -> None:
        """The segment's forward again, in training mode, from its held input, up to the last saved
        tensor (early stop): each row's output and what it saves, a sample after each operation;
        the tensors nothing saves are freed as their readers run, and the rest when it stops."""
        t = self.t
        last = seg["packs"][-1]
        rows = [i for i in seg["rows"] if i <= last]
        keys = {seg["input"]: seg["input"]}
        readers: dict = {}
        for i in rows:
            for sid in reads(self.steps[i]):
                readers[sid] = readers.get(sid, 0) + 1
        made = []
        s = self.steps[rows[0]]
        for i in rows:
            s = self.steps[i]
            before = self.recompute_row(i, s, keys, made, last)
            if before:
                break
            for sid in reads(s):
                readers[sid] -= 1
                key = keys.get(sid)
                if readers[sid] <= 0 and key is not None and key != seg["input"] and self.kept.get(key, 0) <= 0:
                    t.free(key)
        for key in made:  # stopped: what nothing saved goes
            if self.kept.get(key, 0) <= 0:
                t.free(key)
        self.exit_autocast()  # the recomputation's own autocast context
        self.remap[s.ckpt] = keys

    def recompute_row(self, i: int, s: Step, keys: dict, made: list, last: int) -> bool:
        """One row recomputed: its output (unless it stops before its operation ran) and what it saves;
        returns whether the recomputation stops there."""
        t = self.t
        _, saves_out, per_image, per_batch = s.saves
        recording = records(s)
        before = i == last and not s.item.packs_after_op(s)  # stopped before the operation ran
        rule = s.item.autocast if self.low is not None else None
        if rule is not None:
            per_image, per_batch = self.autocast_again(i, s, rule, before)
        if not before and s.sid_out not in keys:
            keys[s.sid_out] = ("re", s.ckpt, s.sid_out)
            t.alloc(keys[s.sid_out], self.vol(s.sid_out), "activation")  # in the dtype its forward gave it
            made.append(keys[s.sid_out])
        if recording and (per_image or per_batch):
            t.alloc(("extra", i), per_image * self.batch + per_batch, "saved")
        elif not recording and (temp := self.transient(s)):
            t.alloc("temp", temp, "other")
        t.sample("recompute", i)
        t.free("temp")
        for j in range(len(s.sids_in) if rule == PROMOTE else 0):
            t.free(("catcast", i, j))
        if not recording:
            return before
        if rule == CAST:  # its casts saved instead of the input, or its (recomputed) low input
            if self.value_bytes(s.sids_in[0]) == self.low:
                sid = self.input_storage(s)
                t.keep(keys.get(sid, sid), +1)
            return before
        for sid in self.kept_in(s):
            t.keep(keys[sid], +1)
        if saves_out and not before:
            t.keep(keys[s.sid_out], +1)
        return before

    def autocast_again(self, i: int, s: Step, rule, before: bool) -> tuple[int, int]:
        """A row recomputed under autocast, in a fresh autocast context (checkpoint restores its state): a
        convolution's or FC's casts, a concatenation's of its low arms; what it saves beside its tensors."""
        din = self.value_bytes(s.sids_in[0])
        if rule == CAST:  # cast again, the weight's cast saved (the recomputation's autocast caches the bias's)
            self.make_casts(i, s, din, checkpointed=False)
        elif rule == PROMOTE and not before:
            self.promote(i, s)
        return s.item.autocast_extra(s.saves, din, self.device, self.fake)
