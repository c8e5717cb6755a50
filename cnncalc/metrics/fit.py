"""The fit of every window: a misfit's arithmetic and wording, its fixes, and the input sizes
for which a whole design fits.

A window fits when (in + 2p - k_eff) is divisible by the stride (the notes: "output H and
W must be integers"); otherwise the floor leaves `uncovered` rows or columns at the end of
the padded input, of which `dropped` are real input. The arithmetic is kinds/geometry.py's.

Two rules judge a window that does not fit (`judge`). The default, "coverage", makes it a
misfit only when it leaves real input unseen beyond what its stride always skips: the floor
drops more real rows than the gap s - k_eff between windows (0 when the kernel is at least the
stride). Dropping only padding, only that gap, or nothing (ceil mode adding a partial window)
is a note. The notes' rule, "notes", makes every non-integer output a misfit.

No work grows with the size of a number: fitting strides are divisors of the span, found by
factoring it; fitting paddings solve a congruence; the input-size search has a budget.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from math import gcd, isqrt

from ..errors import DesignError
from ..graph import LayerGraph
from ..graph.walk import Volumes, Walk
from ..kinds import MAX_VALUE, Branch, Item, Layer, Volume
from ..kinds.geometry import Window

SEARCH_REACH = 256  # input sizes tried on each side of the design's own
SEARCH_VISITS = 1_000_000  # work limit of the input-size search, in layer visits (about a third of a second)
LARGEST = MAX_VALUE - 1  # the largest number a design may write (15 digits): no fix goes past it
WORK: Counter[str] = Counter()  # steps taken: "rho" (Pollard iterations), "divisors", "pads" (candidates built)


def arithmetic(w: Window) -> str:
    """(7 - 3 + 2*0)/5 + 1 = 1.8; a value with more than two decimals is shown approximate,
    never rounded to look whole: (64 - 3 + 2*1)/11000000 + 1 ≈ 1.0000057."""
    return f"({w.size} - {w.kernel} + 2*{w.pad})/{w.stride} + 1 {value_text(w.span + w.stride, w.stride)}"


def value_text(n: int, d: int) -> str:
    """n/d (d > 0), in integers: '= 1.8' when it has at most two decimals; else '≈ ' with two significant
    decimals, more where fewer would round to a whole number (≈ 2.33, ≈ 1.0000057, ≈ 1.9999999)."""
    if n * 100 % d == 0:
        return "= " + _decimals(n, d, 2)
    first = 1
    while n % d * 10**first < d:  # the first nonzero decimal
        first += 1
    places = max(2, first + 1)
    while _round(n * 10**places, d) % 10**places == 0:  # 1.9999999 must not read 2.00
        places += 1
    return "≈ " + _decimals(n, d, places)


def _round(n: int, d: int) -> int:
    """n/d rounded to a whole number, halves to the even one (as Python rounds)."""
    q, r = divmod(n, d)
    return q + 1 if 2 * r > d or (2 * r == d and q % 2) else q


def _decimals(n: int, d: int, places: int) -> str:
    whole, part = divmod(_round(n * 10**places, d), 10**places)
    return f"{whole}.{part:0{places}d}".rstrip("0").rstrip(".")


def uncovered(w: Window) -> int:
    """Rows/columns at the end of the padded input that no window covers (floor mode)."""
    return w.span % w.stride


def adds_window(w: Window) -> bool:
    """Ceil mode keeps one more window than the floor: out = ceil(span/s) + 1, unless that window
    would start past the input, (out - 1)*s >= in + p (geometry.slide)."""
    return w.ceil and w.out > w.span // w.stride + 1


def dropped(w: Window) -> int:
    """Real input rows/columns (not padding) at the end that no window covers; 0 when ceil mode
    adds a partial window there."""
    return 0 if adds_window(w) else max(0, uncovered(w) - w.pad)


RULES = ("coverage", "notes")  # how a window that does not fit is judged (see the module's docstring)


def gap(w: Window) -> int:
    """Input rows a stride larger than the kernel skips between every two windows."""
    return max(0, w.stride - w.kernel)


def judge(w: Window, rule: str = "coverage") -> str:
    """"ok" (it fits), "note" (the floor drops only padding or the stride's gap) or "misfit"."""
    if w.fits:
        return "ok"
    if rule == "notes":
        return "misfit"
    return "misfit" if dropped(w) > gap(w) else "note"


def pads_that_fit(w: Window, top: int | None = None, limit: int = 3) -> list[int]:
    """The paddings 0 <= p <= top (default k_eff - 1, at most LARGEST) nearest the current one for
    which the window fits: (in + 2p - k_eff) % s == 0 and in + 2p >= k_eff."""
    top = min(w.kernel - 1 if top is None else top, LARGEST)
    r, s = w.size - w.kernel, w.stride
    # 2p ≡ -r (mod s): solvable iff g = gcd(2, s) divides r; then p ≡ p0 (mod m), m = s/g
    g = gcd(2, s)
    if r % g:
        return []
    m = s // g
    p0 = (-r // g) * pow(2 // g, -1, m) % m
    low = max(0, -(r // 2))  # in + 2p >= k_eff
    if low > top:
        return []
    at = min(max(w.pad, low), top)  # the nearest are those nearest the current pad clamped to [low, top]
    below = at - (at - p0) % m  # the largest p ≡ p0 at or below `at`
    candidates = [p for p in (below - 2 * m, below - m, below, below + m, below + 2 * m, below + 3 * m)
                  if low <= p <= top]
    WORK["pads"] += len(candidates)
    return sorted(candidates, key=lambda p: (abs(p - w.pad), p))[:limit]


def strides_that_fit(w: Window, limit: int = 3) -> list[int]:
    """The strides 1 <= s' <= max(2s, 4) (at most LARGEST), other than s, nearest s that divide the span."""
    if w.span <= 0:  # 0 fits every stride; a negative span (ceil mode) none
        return []
    fits = [d for d in divisors(w.span, min(max(w.stride * 2, 4), LARGEST)) if d != w.stride]
    return sorted(fits, key=lambda d: (abs(d - w.stride), d))[:limit]


def inputs_that_fit(w: Window) -> list[int]:
    """The nearest input sizes, below and above, for which this window fits."""
    below = w.size - uncovered(w)
    above = below + w.stride
    return [n for n in (below, above) if n + 2 * w.pad >= w.kernel and 1 <= n <= LARGEST]


# -- divisors, by factoring ------------------------------------------------------------------------
TRIAL = 1000  # trial division below this; what is left has only larger prime factors
MR_BASES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41)  # Miller-Rabin is exact below 3.3e24 with these


def divisors(n: int, top: int) -> list[int]:
    """The divisors of n >= 1 that are at most `top`."""
    found = [1]
    for p, e in factor(n).items():
        found = [d * p**i for d in found for i in range(e + 1) if d * p**i <= top]
    WORK["divisors"] += len(found)
    return found


def factor(n: int) -> dict[int, int]:
    """n >= 1 as {prime: exponent}: trial division below TRIAL, then Pollard's rho."""
    primes: Counter[int] = Counter()
    for p in (2, *range(3, TRIAL, 2)):  # an odd composite never divides: its prime factors are gone
        while n % p == 0:
            primes[p] += 1
            n //= p
    rest = [n] if n > 1 else []
    while rest:
        n = rest.pop()
        if is_prime(n):
            primes[n] += 1
        else:
            d = isqrt(n) if isqrt(n) ** 2 == n else _rho(n)
            rest += [d, n // d]
    return dict(primes)


def is_prime(n: int) -> bool:
    """Miller-Rabin for n > 1 with no factor below TRIAL."""
    if n < TRIAL**2:
        return True
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for a in MR_BASES:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def _rho(n: int) -> int:
    """A proper factor of the composite n, not a square (Brent's variant: x -> x² + c, the
    differences multiplied in batches of 64 before one gcd)."""
    c = 1
    while True:
        y, r, q, g = 2, 1, 1, 1
        while g == 1:
            x = y
            for _ in range(r):
                y = (y * y + c) % n
            k = 0
            while k < r and g == 1:
                ys = y
                for _ in range(min(64, r - k)):
                    y = (y * y + c) % n
                    q = q * abs(x - y) % n
                WORK["rho"] += min(64, r - k)
                g = gcd(q, n)
                k += 64
            r *= 2
        if g == n:  # the batch overshot: step through it one difference at a time
            g = 1
            while g == 1:
                ys = (ys * ys + c) % n
                WORK["rho"] += 1
                g = gcd(abs(x - ys), n)
        if g != n:
            return g
        c += 1


# -- a misfit's row text and problems --------------------------------------------------------------
def misfits(layer: Layer, windows: tuple[Window, Window], index: int, line: int, column: int,
            rule: str = "coverage") -> tuple[str, list[dict]]:
    """A layer's windows that do not fit, as the row's text and the report's entries (one per axis,
    or one for both when they are alike), each with its `fit`: "misfit" (a problem) or "note"."""
    h, w = windows
    same = (h.size, h.kernel, h.pad, h.stride, layer.pad_limit(h)) == (w.size, w.kernel, w.pad, w.stride,
                                                                       layer.pad_limit(w))
    groups = [("H and W", h)] if same and not h.fits else [(f.axis, f) for f in windows if not f.fits]
    texts, problems = [], []
    for axis, fit in groups:
        pads, strides, inputs = (list(found) for found in _fixes(fit, layer.pad_limit(fit)))
        text = f"{axis}: {arithmetic(fit)} is not a whole number; {_effect(fit, axis)}{_fix_text(pads, strides, inputs)}"
        texts.append(text)
        verdict = judge(fit, rule)
        heading = ("does not fit" if verdict == "misfit" else
                   "does not fit exactly (a note, it drops no more than its stride always skips)" if dropped(fit) else
                   "does not fit exactly (a note, no input is dropped)")
        problems.append({
            "index": index, "name": layer.name, "line": line, "column": column, "axis": axis,
            "arithmetic": arithmetic(fit), "output": fit.out, "uncovered": uncovered(fit), "dropped": dropped(fit),
            "pads": pads, "strides": strides, "inputs": inputs, "message": f"{layer.name} {heading}: {text}",
            "source": "design",
            "fit": verdict})
    return "; ".join(texts), problems


def _effect(fit: Window, axis: str) -> str:
    """What the layer makes of a window that does not fit: the windows it keeps, what it drops."""
    if adds_window(fit):
        return f"ceil mode keeps {fit.out}, adding a partial window at the end"
    if fit.ceil:
        effect = f"ceil mode keeps {fit.out}, the same as the floor: one more window would start past the input"
        return effect + (f", and it drops {_last(dropped(fit), axis)} of the input" if dropped(fit) else "")
    if dropped(fit):
        effect = f"the floor keeps {fit.out} and drops {_last(dropped(fit), axis)} of the input"
        if dropped(fit) <= gap(fit):
            effect += f", no more than the {gap(fit)} its stride {fit.stride} skips between every two windows"
        return effect
    return f"the floor keeps {fit.out}; only padding is dropped ({_last(uncovered(fit), axis)})"


def _fix_text(pads: list[int], strides: list[int], inputs: list[int]) -> str:
    """'; fits with p=1 or p=2, or stride 3, or an input 225 to this layer', or nothing."""
    fixes = []
    if pads:
        fixes.append("p=" + " or p=".join(str(p) for p in pads))
    if strides:
        fixes.append("stride " + " or ".join(str(s) for s in strides))
    if inputs:
        fixes.append(f"an input {' or '.join(str(n) for n in inputs)} to this layer")
    return f"; fits with {', or '.join(fixes)}" if fixes else ""


@lru_cache(maxsize=1024)
def _fixes(w: Window, top: int) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """The paddings, strides and input sizes that fit a window (a repeated layer's are found once)."""
    return tuple(pads_that_fit(w, top)), tuple(strides_that_fit(w)), tuple(inputs_that_fit(w))


def _last(n: int, axis: str) -> str:
    """'the last row', 'the last 3 rows and columns'."""
    words = {"H": ("row", "rows"), "W": ("column", "columns")}.get(axis, ("row and column", "rows and columns"))
    return f"the last {words[0]}" if n == 1 else f"the last {n} {words[1]}"


# -- the input sizes for which every window fits ---------------------------------------------------
def size_after(layer: Layer, axis: int, size: int, rule: str) -> int | None:
    """The size after a layer along `axis` (each kind's `axis` rule), or None where it has none there or
    its window is a misfit by `rule`."""
    found = layer.axis(axis, size)
    if found is None:
        return None
    out, w = found
    if w is None or w.fits:
        return out
    return out if rule != "notes" and judge(w, rule) == "note" else None


class SearchExhausted(Exception):
    """The input-size search used up its budget of layer visits."""


class _NoSize(Exception):
    """Along the axis searched, a layer has no output or a window is a misfit."""


def _spend(items: list[Item], budget: list[int]) -> None:
    budget[0] -= len(items)
    if budget[0] < 0:
        raise SearchExhausted


class _Axis(Walk):
    """The size along one axis after each item, by the kinds' `axis` rules (size_after); every chain
    walked spends a unit of the budget per item."""

    def __init__(self, axis: int, budget: list[int], rule: str) -> None:
        self.axis, self.budget, self.rule = axis, budget, rule

    def chain(self, items: list[Item]) -> None:
        _spend(items, self.budget)

    def layer(self, layer: Layer, size: int, depth: int, arm: int | None) -> int:
        size = size_after(layer, self.axis, size, self.rule)
        if size is None:
            raise _NoSize
        return size

    def branch(self, branch: Branch, size: int, depth: int, arm: int | None) -> int:
        """Every arm must fit and agree; after a side head, what follows reads its input."""
        sizes = [self.walk(chain, size, depth + 1, index) for index, chain in enumerate(branch.arms, start=1)]
        merged = branch.axis_size(sizes)  # the arms agree (a gate's 1 broadcasts: the merge's rule)
        if merged is None:
            raise _NoSize
        return size if branch.side else merged


class _Valid(Volumes):
    """The volumes of Volumes, each chain walked spending the budget as _Axis does."""

    def __init__(self, budget: list[int]) -> None:
        self.budget = budget

    def chain(self, items: list[Item]) -> None:
        _spend(items, self.budget)


def size_if_fits(items: list[Item], axis: int, size: int, budget: list[int], rule: str = "coverage") -> int | None:
    """The size along `axis` after `items`, or None unless every window passes the rule (no misfit).
    Each layer visited spends one unit of budget[0]; SearchExhausted when none is left."""
    try:
        return _Axis(axis, budget, rule).walk(items, size)
    except _NoSize:
        return None


def _volume_if_valid(items: list[Item], x: Volume, budget: list[int]) -> Volume | None:
    """The volume after `items` by the shape rules, or None where one refuses it (groups that do
    not divide the channels a FLATTEN made, say). Spends budget as size_if_fits does."""
    try:
        return _Valid(budget).walk(items, x)
    except DesignError:
        return None


def input_fixes(graph: LayerGraph, reach: int = SEARCH_REACH, visits: int = SEARCH_VISITS, rule: str = "coverage"
                ) -> tuple[dict[str, list[int]], str | None]:
    """Per axis ("h", "w"), the nearest input sizes below and above for which no window of the
    design is a misfit by `rule`; [] for an axis that fits already, and for both when a misfitting axis has none.
    Each size offered plans with every size offered (or kept) on the other axis. Searched within
    `reach` of the input and `visits` layer visits; the second value is a warning when the search
    stopped on its budget (the axes searched by then are shown)."""
    items, x = graph.items, graph.input.size
    now = (x.h, x.w)
    budget = [visits]
    fixes: dict[str, list[int]] = {}
    fits: dict[int, bool] = {}  # axis -> every window fits along it at the design's size, found when needed

    def axis_fits(axis: int) -> bool:
        if axis not in fits:
            fits[axis] = size_if_fits(items, axis, now[axis], budget, rule) is not None
        return fits[axis]

    def plans(axis: int, n: int) -> bool:
        """n along `axis` plans with the other axis' sizes: its own when it fits, those found when
        it was searched first, else none yet (its search checks against these)."""
        other = 1 - axis
        partners = [now[other]] if axis_fits(other) else fixes["hw"[other]] if other < axis else []
        return all(_volume_if_valid(items, Volume(*((n, m) if axis == 0 else (m, n)), x.c), budget) is not None
                   for m in partners)

    try:
        for axis, key in ((0, "h"), (1, "w")):
            fixes[key] = found = []
            if axis_fits(axis):
                continue
            size = now[axis]
            below, above = range(size - 1, max(0, size - reach), -1), range(size + 1, min(size + reach, LARGEST + 1))
            for candidates in (below, above):
                for n in candidates:
                    if size_if_fits(items, axis, n, budget, rule) is not None and plans(axis, n):
                        found.append(n)
                        break
    except SearchExhausted:
        return fixes, (f"the search for input sizes that fit stopped after {visits:,} layer visits; "
                       f"the sizes shown are those found by then")
    if any(not fixes[key] and not fits[axis] for axis, key in ((0, "h"), (1, "w"))):
        return {"h": [], "w": []}, None
    return fixes, None
