"""A tiny scalar autograd engine, micrograd-style (notebook 02 builds it step by step).

    a, b = Value(2.0), Value(-3.0)
    L = (a * b + 1).tanh()
    L.backward()            # fills a.grad = dL/da and b.grad = dL/db

Each operation makes a new Value that remembers its inputs and the local derivative of its result with
respect to each of them. backward() walks the graph from the output back to the inputs (reverse
topological order) and applies the chain rule: input.grad += local derivative * output.grad.
As in PyTorch, leaves accumulate gradients across backward() calls (reset them with zero_grad()).
"""

import math
import numbers


class Value:
    def __init__(self, data, _prev=(), _op="", label=""):
        if isinstance(data, Value) or not isinstance(data, numbers.Real):
            hint = " (for a 0-d tensor use .item())" if hasattr(data, "item") else ""
            raise TypeError(f"a Value holds one real number (int or float), got {type(data).__name__} "
                            f"{data!r}{hint}")
        self.data = float(data)
        self.grad = 0.0
        self._prev = tuple(_prev)
        self._op = _op
        self.label = label
        self._backward = lambda: None

    def __repr__(self):
        return f"Value(data={self.data:.4g}, grad={self.grad:.4g})"

    def _make(self, data, op, inputs_and_locals):
        """The result of an operation: data, and for each input the local derivative d data / d input."""
        out = Value(data, [v for v, _ in inputs_and_locals], op)

        def _backward():  # chain rule; += because a Value used twice gets gradient from both uses
            for v, local in inputs_and_locals:
                v.grad += local * out.grad
        out._backward = _backward
        return out

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return self._make(self.data + other.data, "+", [(self, 1.0), (other, 1.0)])

    def __sub__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return self._make(self.data - other.data, "-", [(self, 1.0), (other, -1.0)])

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return self._make(self.data * other.data, "*", [(self, other.data), (other, self.data)])

    def __truediv__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        if other.data == 0:
            raise ZeroDivisionError("division of a Value by zero")
        a, b = self.data, other.data
        return self._make(a / b, "/", [(self, 1 / b), (other, -a / b ** 2)])

    def __pow__(self, k):
        if not isinstance(k, numbers.Real):
            raise TypeError(f"Value ** k needs a plain number k (int or float), got {type(k).__name__}; "
                            "for x ** y with y a Value, write (y * x.log()).exp()")
        if self.data < 0 and k != int(k):
            raise ValueError(f"{self.data:g} ** {k:g} is not a real number: a fractional power needs a base >= 0")
        if self.data == 0 and k < 1:
            raise ZeroDivisionError(f"0 ** {k:g}: the power or its derivative is infinite at 0")
        return self._make(self.data ** k, f"**{k:g}", [(self, k * self.data ** (k - 1))])

    def __neg__(self):
        return self._make(-self.data, "neg", [(self, -1.0)])

    def exp(self):
        if self.data > 709:
            raise OverflowError(f"exp({self.data:g}) is too large for a float: scale the input down "
                                "(a learning rate too high?)")
        e = math.exp(self.data)
        return self._make(e, "exp", [(self, e)])

    def log(self):
        if self.data <= 0:
            raise ValueError(f"log needs a positive number, got {self.data:g} "
                             "(a probability of 0? clip it, e.g. (p + 1e-9).log())")
        return self._make(math.log(self.data), "log", [(self, 1 / self.data)])

    def tanh(self):
        t = math.tanh(self.data)
        return self._make(t, "tanh", [(self, 1 - t ** 2)])

    def sigmoid(self):
        x = self.data  # two forms of 1 / (1 + e^-x), so that exp never overflows
        s = 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))
        return self._make(s, "sigmoid", [(self, s * (1 - s))])

    def relu(self):
        return self._make(max(self.data, 0.0), "relu", [(self, float(self.data > 0))])

    # a plain number on the left: 2 + v, 2 - v, 2 * v, 2 / v
    def __radd__(self, other):
        return Value(other) + self

    def __rsub__(self, other):
        return Value(other) - self

    def __rmul__(self, other):
        return Value(other) * self

    def __rtruediv__(self, other):
        return Value(other) / self

    def topological_order(self):
        """This Value and every Value it depends on, each after all the Values it was made from.
        An explicit stack instead of recursion, so that deep graphs (a sum of thousands of terms) work."""
        order, seen, stack = [], set(), [(self, False)]
        while stack:
            v, inputs_done = stack.pop()
            if inputs_done:
                order.append(v)
            elif v not in seen:
                seen.add(v)
                stack.append((v, True))
                stack.extend((u, False) for u in v._prev)
        return order

    def backward(self):
        """Fill .grad of every Value this one depends on with d self / d that Value."""
        order = self.topological_order()
        for v in order:
            if v._prev:  # intermediate results start from zero on each call; leaves accumulate
                v.grad = 0.0
        self.grad += 1.0
        for v in reversed(order):
            v._backward()

    def zero_grad(self):
        """Set .grad to 0 for this Value and every Value it depends on."""
        for v in self.topological_order():
            v.grad = 0.0
