"""Checkers for notebook 02 · Gradient descent and backprop."""

import functools
import math

import torch

from ... import mlp, optim
from ...engine import Value
from ...toy import xor_blobs
from ..i18n import _
from . import attempt, checker, close, correct, forbid, hint, integer, number, placeholder, rng, unanswered, uniform
from . import show_solution  # noqa: F401  the notebooks call check.show_solution("nbNN.exercise")

# derive it by hand: autograd, by any route, and the engines (the package's and the notebook's own)
AUTOGRAD = ("torch.autograd.grad", "torch.autograd.backward", "torch.func.grad", "torch.func.grad_and_value",
            "torch.func.vjp", "torch.func.jacrev", "torch.func.jacfwd", "torch.autograd.functional.jacobian",
            "torch.autograd.functional.vjp", "lmutils.engine.Value.backward")
AUTOGRAD_OPS = ("backward",)

# f and its derivative, for a random composition L = (f(w·x + b) − t)²
FUNCTIONS = {"tanh": (math.tanh, lambda z: 1 - math.tanh(z) ** 2),
             "sigmoid": (lambda z: 1 / (1 + math.exp(-z)), lambda z: math.exp(-z) / (1 + math.exp(-z)) ** 2),
             "sin": (math.sin, math.cos),
             "exp": (math.exp, math.exp),
             "softplus": (lambda z: math.log1p(math.exp(z)), lambda z: 1 / (1 + math.exp(-z)))}


@checker
def chain_rule(fn):
    """chain_rule(w, x, b, t, f, df) = (∂L/∂y, ∂y/∂z, ∂z/∂w) for z = w·x + b, y = f(z), L = (y − t)²: the three
    local derivatives whose product is ∂L/∂w."""
    names = list(FUNCTIONS)
    for _case in range(4):
        name = names[integer(0, len(names) - 1)]
        f, df = FUNCTIONS[name]
        w, x, b, t = (uniform(-1.5, 1.5) for _i in range(4))
        zv = w * x + b
        want = (2 * (f(zv) - t), df(zv), x)                  # ∂L/∂y, ∂y/∂z, ∂z/∂w
        with forbid(fn, *AUTOGRAD, ops=AUTOGRAD_OPS, notebook=("Value", "neuron_loss")):
            got, err = attempt(fn, w, x, b, t, f, df)
        if err is not None:
            return err
        try:
            got = [number(v) for v in got]
        except TypeError:
            got = None
        if got is None or len(got) != 3 or None in got:
            return hint(_("return three numbers: (∂L/∂y, ∂y/∂z, ∂z/∂w), the local derivatives along the chain."))
        where = _("for f = {f}, w = {w:.3g}, x = {x:.3g}, b = {b:.3g}, t = {t:.3g}", f=name, w=w, x=x, b=b, t=t)
        if all(math.isclose(g, e, rel_tol=1e-6, abs_tol=1e-9) for g, e in zip(got, want)):
            continue
        if not math.isclose(got[0], want[0], rel_tol=1e-6, abs_tol=1e-9):
            if math.isclose(got[0], -want[0], rel_tol=1e-6, abs_tol=1e-9):
                return hint(_("{where}: ∂L/∂y has the wrong sign: is y − t positive or negative here?", where=where))
            if math.isclose(got[0], want[0] / 2, rel_tol=1e-6, abs_tol=1e-9):
                return hint(_("{where}: ∂L/∂y is half what it should be: what is the derivative of u²?",
                              where=where))
            return hint(_("{where}: ∂L/∂y is not right. Compute z and y first (forward), then differentiate "
                          "L = (y − t)² with respect to y.", where=where),
                        _("{where}: ∂L/∂y is the derivative of (y − t)², at this y = f(z) = {y:.4g}.", where=where,
                          y=f(zv)),
                        _("∂L/∂y = __ * (y - t), with y = f(w * x + b)."))
        if not math.isclose(got[1], want[1], rel_tol=1e-6, abs_tol=1e-9):
            if math.isclose(got[1], df(f(zv)), rel_tol=1e-6, abs_tol=1e-9):
                return hint(_("{where}: you evaluated df at y; the local derivative of y = f(z) is taken at z.",
                              where=where))
            return hint(_("{where}: ∂y/∂z is not right: y = f(z), and you were given f's derivative.", where=where),
                        _("{where}: ∂y/∂z is f'(z) at z = w·x + b = {z:.4g}.", where=where, z=zv),
                        _("∂y/∂z = df(__)"))
        return hint(_("{where}: ∂z/∂w is not right: z = w·x + b; what does z gain when w grows by 1?", where=where),
                    _("{where}: z = w·x + b is linear in w; its slope with respect to w is one of the inputs.",
                      where=where))
    return correct(_("∂L/∂w = ∂L/∂y · ∂y/∂z · ∂z/∂w: three local derivatives, multiplied. Backprop does this "
                     "at every node of the graph."))


@checker
def value_sin(fn):
    """value_sin(v): a new Value holding sin(v), whose local derivative lets backward() reach v."""
    starts = [uniform(-3, 3) for _i in range(4)] + [0.0]
    for start in starts:
        a = Value(start)
        out, err = attempt(fn, a)
        if err is not None:
            return err
        if not isinstance(out, Value):
            return hint(_("return a Value (made with v._make(data, op, [(input, local derivative)])), got {kind}.",
                          kind=type(out).__name__))
        if not math.isclose(out.data, math.sin(start), abs_tol=1e-9):
            return hint(_("the forward value is wrong: sin({x:.4g}) = {want:.4f}, you computed {got:.4f}.", x=start,
                          want=math.sin(start), got=out.data))
        L = out * a            # a used twice: checks that gradients flow and accumulate
        L.backward()
        expected = math.cos(start) * start + math.sin(start)
        if math.isclose(a.grad, expected, abs_tol=1e-9):
            continue
        if math.isclose(a.grad, math.sin(start), abs_tol=1e-9):
            return hint(_("no gradient flows through your sin: what does _make need besides the data?"),
                        _("no gradient flows through your sin: give _make the input v and its local derivative, "
                          "as a list of (input, local derivative) pairs."))
        if math.isclose(a.grad, -math.cos(start) * start + math.sin(start), abs_tol=1e-9):
            return hint(_("the local derivative has the wrong sign: what is d/dx sin(x)?"))
        local = (a.grad - math.sin(start)) / start if start else float("nan")
        return hint(_("the gradient is wrong: what is the derivative of sin, and at which point?"),
                    _("at v = {x:.4g} your local derivative is {got:.4g}; sin's derivative at v is {want:.4g}.",
                      x=start, got=local, want=math.cos(start)),
                    _("v._make(math.sin(v.data), \"sin\", [(v, __)])"))
    return correct(_("one line of forward math, one local derivative: backward() does the rest."))


@checker
def linear_backward(fn):
    """linear_backward(X, W, dY) = (dX, dW, db) for Y = X Wᵀ + b, W stored as nn.Linear stores it, (out, in)."""
    first = integer(3, 5)
    for N, D, M in [(integer(2, 6), first, first - 1), (1, integer(2, 4), integer(2, 4)), (integer(3, 6), 4, 4)]:
        X = torch.randn(N, D, generator=rng(), dtype=torch.float64)
        W = torch.randn(M, D, generator=rng(), dtype=torch.float64)
        b = torch.randn(M, generator=rng(), dtype=torch.float64)
        dY = torch.randn(N, M, generator=rng(), dtype=torch.float64)
        leaves = [v.clone().requires_grad_() for v in (X, W, b)]
        (leaves[0] @ leaves[1].T + leaves[2]).backward(dY)
        with forbid(fn, *AUTOGRAD, "lmutils.mlp.backward", "lmutils.mlp.loss_and_grads", ops=AUTOGRAD_OPS,
                    notebook=("backward", "buggy_backward")):
            out, err = attempt(fn, X.clone(), W.clone(), dY.clone())
        if err is not None and ("shape" in err.message or "size" in err.message):
            return hint(_("{error} Write down the shapes: X {X}, W {W}, dY {dY}; each gradient has the shape of "
                          "what it is the gradient of.", error=err.message, X=tuple(X.shape), W=tuple(W.shape),
                          dY=tuple(dY.shape)))
        if err is not None:
            return err
        if not isinstance(out, (tuple, list)) or len(out) != 3:
            return hint(_("return three tensors: (dX, dW, db)."))
        for name, got, leaf in zip(("dX", "dW", "db"), out, leaves):
            if not torch.is_tensor(got) or got.shape != leaf.shape:
                shape = tuple(got.shape) if torch.is_tensor(got) else type(got).__name__
                return hint(_("for X {X}, W {W} and dY {dY}, {name} must have the shape of {what}, {want}; got "
                              "{got}. Let the shapes tell you which matrices to multiply, and in which order.",
                              X=tuple(X.shape), W=tuple(W.shape), dY=tuple(dY.shape), name=name, what=name[1:],
                              want=tuple(leaf.shape), got=shape))
            if close(got, leaf.grad, tol=1e-8):
                continue
            if name == "dW" and close(got, leaf.grad.T, tol=1e-8):
                return hint(_("dW is transposed: that is the gradient for W stored as (in, out), as in the MLP "
                              "above. nn.Linear stores W as (out, in), Y = X Wᵀ + b."),
                            _("with Y[n, m] = Σ_d X[n, d] W[m, d] + b[m], ∂E/∂W[m, d] = Σ_n dY[n, m] X[n, d]."))
            return hint(_("{name} has the right shape but wrong values. Y = X Wᵀ + b: each entry of {what} touches "
                          "Y through a product or a sum; follow it.", name=name, what=name[1:]),
                        _("{name} has the right shape but wrong values: write Y[n, m] = Σ_d X[n, d] W[m, d] + b[m] "
                          "and differentiate with respect to one entry of {what}.", name=name, what=name[1:]),
                        _("dX = dY @ __, dW = __.T @ __, db = dY.sum(__)"))
    return correct(_("dX = dY W, dW = dYᵀ X, db = Σ_n dY: the layout of W decides which side each transpose is on."))


@checker
def one_step_lr(fn):
    """one_step_lr(p, q) = the learning rate η with which one gradient-descent step on E(w) = p·w² + q·w lands
    on the minimum, from any w."""
    for p, q in [(uniform(0.1, 5), uniform(-3, 3)) for _i in range(4)] + [(uniform(5, 50), 0.0)]:
        got, err = attempt(fn, p, q)
        if err is not None:
            return err
        eta = number(got)
        if eta is None:
            return hint(_("return one number, the learning rate, got {kind}.", kind=type(got).__name__))
        w0 = uniform(-5, 5)
        w1 = w0 - eta * (2 * p * w0 + q)          # one step: Δw = −η ∂E/∂w
        w_min = -q / (2 * p)
        if abs(w1 - w_min) < 1e-6 * max(1.0, abs(w0 - w_min)):
            continue
        where = _("for E(w) = {p:.3g}·w² + {q:.3g}·w, from w = {w0:.3g}", p=p, q=q, w0=w0)
        if eta <= 0:
            return hint(_("a learning rate is positive: the minus sign in Δw = −η ∂E/∂w already points downhill."))
        if abs(w1 - w_min) > abs(w0 - w_min):
            return hint(_("{where} your step lands at {w1:.4g}, further from the minimum at {m:.4g} than it "
                          "started: gradient descent diverges with this η.", where=where, w1=w1, m=w_min),
                        _("one step goes from w to w − η·(2p·w + q): set that equal to the minimum and solve for η."),
                        _("η = 1 / (__ * __)"))
        side = _("past") if (w1 - w_min) * (w0 - w_min) < 0 else _("short of")
        return hint(_("{where} your step lands at {w1:.4g}, {side} the minimum at {m:.4g}.", where=where, w1=w1,
                      side=side, m=w_min),
                    _("one step goes from w to w − η·(2p·w + q): set that equal to the minimum −q/(2p) and solve "
                      "for η."),
                    _("η = 1 / (__ * __)"))
    return correct(_("η = 1/(2p) = 1/E'': on a parabola one step of that size is Newton's step. Above twice that, "
                     "gradient descent diverges."))


OPTIMIZERS = {"SGD": lambda params, lr: optim.SGD(params, lr=lr),
              "momentum": lambda params, lr: optim.SGD(params, lr=lr, momentum=0.9),
              "Adam": lambda params, lr: optim.Adam(params, lr=lr)}


@functools.lru_cache(maxsize=64)  # the same settings train the same model: measured once
def race_loss(optimizer: str, lr: float, steps: int = 100, batch_size: int = 32) -> float:
    """The XOR network of the notebook, trained with minibatches from its starting weights: the loss on all 200
    points after `steps` steps."""
    X, t = xor_blobs(200)
    params = {k: v.requires_grad_() for k, v in
              mlp.init_params(2, 8, 2, generator=torch.Generator().manual_seed(0)).items()}
    opt = OPTIMIZERS[optimizer](list(params.values()), lr)
    g = torch.Generator().manual_seed(0)
    for _step in range(steps):
        batch = torch.randint(0, len(X), (batch_size,), generator=g)
        loss = mlp.cross_entropy(mlp.forward(params, X[batch])[0], t[batch])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return mlp.cross_entropy(mlp.forward(params, X)[0], t).item()


@checker
def optimizer_race(settings):
    """Experiment: settings = dict(optimizer="SGD" | "momentum" | "Adam", lr=...); 100 minibatch steps of 32 from
    the notebook's starting weights must bring the XOR network's loss on all its points below 0.05."""
    if unanswered(settings):
        return placeholder()
    if not isinstance(settings, dict) or set(settings) != {"optimizer", "lr"}:
        return hint(_("give a dict with two keys: dict(optimizer=\"Adam\", lr=0.01), say."))
    name, lr = settings["optimizer"], number(settings["lr"])
    if name not in OPTIMIZERS:
        return hint(_("optimizer must be one of {names}, got {got!r}.", names=", ".join(OPTIMIZERS), got=name))
    if lr is None or not 0 < lr <= 100:
        return hint(_("lr must be a positive number (at most 100), got {got!r}.", got=settings["lr"]))
    loss = race_loss(name, lr)
    if loss < 0.05:
        return correct(_("{name} at η = {lr:g}: loss {loss:.4f} after 100 steps. The same network at other rates: "
                         "too small crawls, too large overshoots.", name=name, lr=lr, loss=loss))
    if not math.isfinite(loss) or loss > 1.0:
        return hint(_("{name} at η = {lr:g} ends at a loss of {loss:.3g}: the steps overshoot. Try smaller ones.",
                      name=name, lr=lr, loss=loss))
    return hint(_("{name} at η = {lr:g} ends at a loss of {loss:.4f} after 100 steps, not below 0.05. Try rates "
                  "ten times apart first, then refine.", name=name, lr=lr, loss=loss),
                _("{name} at η = {lr:g}: {loss:.4f}. Plain SGD needs large steps on this problem; momentum and Adam "
                  "get there in fewer, at their own learning rates (see the race above).", name=name, lr=lr,
                  loss=loss))
