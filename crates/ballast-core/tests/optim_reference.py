#!/usr/bin/env python3
"""Reference values for Ballast's optimizers and learning-rate schedules (issue 15).

Plain NumPy in float64: a direct implementation of each update rule and schedule as Keras 3
publishes it (keras/src/optimizers/*.py, keras/src/optimizers/schedules/), deterministic,
no TensorFlow or Keras needed. Run from anywhere:

    /usr/bin/python3 crates/ballast-core/tests/optim_reference.py

It writes ``optim_reference.json`` next to this script, which
``tests/optim_reference.rs`` reads:

* ``optimizers``: for each optimizer and option set, a few parameters (``layer/weight``
  names), ``grads`` (one object per step), the ``learningRates`` each step used, the
  parameter values ``expected`` after each step, and with ``useEma`` the moving averages
  ``ema`` after each step.
* ``schedules``: each schedule's rate at steps 0, 1, 2, ...

Configs use Ballast's camelCase keys and give only the options a case sets, so the Rust side
also checks its defaults against the Keras 3 defaults written here.

Inputs are rounded to float32 first (the core is f32), then everything runs in float64.

``--keras`` instead runs the same cases through real Keras 3 (any backend, e.g.
``pip install keras jax``) in float32 and compares them with this reference: done once for
the committed JSON with Keras 3.15.1 on JAX 0.10.2 — every optimizer case and every schedule
agreed within 1e-5 relative (see the end of the file for how options map to Keras).
"""

import json
import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
STEPS = 8


def f32(x):
    return np.asarray(x, dtype=np.float32).astype(np.float64)


# ---------------------------------------------------------------- schedules (Keras 3)


def exponential_decay(c, step):
    p = step / c["decaySteps"]
    if c.get("staircase", False):
        p = math.floor(p)
    return c["initialLearningRate"] * c["decayRate"] ** p


def piecewise_constant_decay(c, step):
    b, v = c["boundaries"], c["values"]
    if step <= b[0]:
        return v[0]
    if step > b[-1]:
        return v[-1]
    for low, high, value in zip(b[:-1], b[1:], v[1:-1]):
        if low < step <= high:
            return value
    raise AssertionError("unreachable")


def cosine_decay(c, step):
    lr0, d = c["initialLearningRate"], c["decaySteps"]
    alpha = c.get("alpha", 0.0)
    target, w = c.get("warmupTarget"), c.get("warmupSteps", 0)

    def decay(s, start):
        cos = 0.5 * (1 + math.cos(math.pi * s / d))
        return start * ((1 - alpha) * cos + alpha)

    if target is None:
        return decay(min(step, d), lr0)
    s = min(step, d + w)
    if s < w:
        return (target - lr0) * (s / w) + lr0
    return decay(s - w, target)


def cosine_decay_restarts(c, step):
    lr0, first = c["initialLearningRate"], c["firstDecaySteps"]
    t_mul, m_mul, alpha = c.get("tMul", 2.0), c.get("mMul", 1.0), c.get("alpha", 0.0)
    f = step / first
    # Which period the step is in, by walking the periods (lengths 1, t, t², ... first periods).
    i, start, length = 0, 0.0, 1.0
    while start + length <= f:
        start += length
        length *= t_mul
        i += 1
    frac = (f - start) / length
    cos = 0.5 * m_mul**i * (1 + math.cos(math.pi * frac))
    return lr0 * ((1 - alpha) * cos + alpha)


def polynomial_decay(c, step):
    lr0, d = c["initialLearningRate"], c["decaySteps"]
    end, power = c.get("endLearningRate", 1e-4), c.get("power", 1.0)
    if c.get("cycle", False):
        d = d * (1 if step == 0 else math.ceil(step / d))
    else:
        step = min(step, d)
    return (lr0 - end) * (1 - step / d) ** power + end


SCHEDULES = {
    "ExponentialDecay": exponential_decay,
    "PiecewiseConstantDecay": piecewise_constant_decay,
    "CosineDecay": cosine_decay,
    "CosineDecayRestarts": cosine_decay_restarts,
    "PolynomialDecay": polynomial_decay,
}


def rate(lr, step):
    if isinstance(lr, dict):
        return SCHEDULES[lr["className"]](lr["config"], step)
    return lr


# ---------------------------------------------------------------- optimizers (Keras 3)

DEFAULTS = {
    "SGD": {"learningRate": 0.01, "momentum": 0.0, "nesterov": False},
    "Adam": {"learningRate": 0.001, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-7, "amsgrad": False},
    "AdamW": {"learningRate": 0.001, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-7, "amsgrad": False,
              "weightDecay": 0.004},
    "RMSprop": {"learningRate": 0.001, "rho": 0.9, "momentum": 0.0, "epsilon": 1e-7, "centered": False},
    "Adagrad": {"learningRate": 0.001, "initialAccumulatorValue": 0.1, "epsilon": 1e-7},
    "Nadam": {"learningRate": 0.001, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-7},
    "Lion": {"learningRate": 0.001, "beta1": 0.9, "beta2": 0.99},
}
COMMON = {"weightDecay": None, "excludeFromWeightDecay": [], "useEma": False, "emaMomentum": 0.99,
          "emaOverwriteFrequency": None}


class Reference:
    """Keras 3's base optimizer around one of the rules below."""

    def __init__(self, class_name, config):
        self.o = {**COMMON, **DEFAULTS[class_name], **config}
        self.rule = getattr(self, class_name.lower())
        self.iterations = 0
        self.state = {}  # name -> dict of arrays
        self.ema = {}
        self.u_product = 1.0  # Nadam

    def step(self, params, grads):
        o, t = self.o, self.iterations
        lr = rate(o["learningRate"], t)
        if self.rule == self.nadam:
            self.u_product *= o["beta1"] * (1 - 0.5 * 0.96 ** (t + 1))
        for name, w in params.items():
            wd = o["weightDecay"]
            if wd is not None and not any(s in name for s in o["excludeFromWeightDecay"]):
                w -= w * wd * lr
            self.rule(self.state.setdefault(name, {}), w, grads[name], lr, t + 1)
        if o["useEma"]:
            for name, w in params.items():
                m = 0.0 if t == 0 else o["emaMomentum"]
                self.ema[name] = m * self.ema.get(name, 0.0) + (1 - m) * w
            freq = o["emaOverwriteFrequency"]
            if freq and (t + 1) % freq == 0:
                for name, w in params.items():
                    w[...] = self.ema[name]
        self.iterations += 1
        return lr

    # Each rule updates w (and its state s) in place; t is the 1-based step.

    def sgd(self, s, w, g, lr, t):
        mu = self.o["momentum"]
        if mu == 0:
            w -= lr * g
            return
        v = s.setdefault("v", np.zeros_like(w))
        v[...] = mu * v - lr * g
        w += mu * v - lr * g if self.o["nesterov"] else v

    def adam(self, s, w, g, lr, t):
        b1, b2, eps = self.o["beta1"], self.o["beta2"], self.o["epsilon"]
        m = s.setdefault("m", np.zeros_like(w))
        v = s.setdefault("v", np.zeros_like(w))
        m[...] = b1 * m + (1 - b1) * g
        v[...] = b2 * v + (1 - b2) * g * g
        if self.o["amsgrad"]:
            vmax = s.setdefault("vmax", np.zeros_like(w))
            vmax[...] = np.maximum(vmax, v)
            v = vmax
        # Keras: the bias corrections go into the step size, ε outside the corrected root.
        alpha = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
        w -= alpha * m / (np.sqrt(v) + eps)

    adamw = adam

    def rmsprop(self, s, w, g, lr, t):
        rho, mu, eps = self.o["rho"], self.o["momentum"], self.o["epsilon"]
        v = s.setdefault("v", np.zeros_like(w))
        v[...] = rho * v + (1 - rho) * g * g
        if self.o["centered"]:
            a = s.setdefault("a", np.zeros_like(w))
            a[...] = rho * a + (1 - rho) * g
            step = lr * g / np.sqrt(v - a * a + eps)
        else:
            step = lr * g / np.sqrt(v + eps)
        if mu > 0:
            mom = s.setdefault("mom", np.zeros_like(w))
            mom[...] = mu * mom + step
            step = mom
        w -= step

    def adagrad(self, s, w, g, lr, t):
        acc = s.setdefault("acc", np.full_like(w, self.o["initialAccumulatorValue"]))
        acc += g * g
        w -= lr * g / np.sqrt(acc + self.o["epsilon"])

    def nadam(self, s, w, g, lr, t):
        b1, b2, eps = self.o["beta1"], self.o["beta2"], self.o["epsilon"]
        u_t = b1 * (1 - 0.5 * 0.96**t)
        u_next = b1 * (1 - 0.5 * 0.96 ** (t + 1))
        m = s.setdefault("m", np.zeros_like(w))
        v = s.setdefault("v", np.zeros_like(w))
        m[...] = b1 * m + (1 - b1) * g
        v[...] = b2 * v + (1 - b2) * g * g
        m_hat = u_next * m / (1 - self.u_product * u_next) + (1 - u_t) * g / (1 - self.u_product)
        v_hat = v / (1 - b2**t)
        w -= lr * m_hat / (np.sqrt(v_hat) + eps)

    def lion(self, s, w, g, lr, t):
        b1, b2 = self.o["beta1"], self.o["beta2"]
        m = s.setdefault("m", np.zeros_like(w))
        c = b1 * m + (1 - b1) * g
        # f32 and f64 must agree on the sign.
        assert np.all(np.abs(c) > 1e-4), c
        w -= lr * np.sign(c)
        m[...] = b2 * m + (1 - b2) * g


# ---------------------------------------------------------------- cases

PARAMS = {
    "dense/kernel": [0.8, -1.2, 1.5, -0.6, 2.0, -1.7],
    "dense/bias": [1.2, -0.9, 1.1],
}


def gradients(step, scale=1.0, shrink=False):
    """Fixed, different at every step; with ``shrink`` they fall off (so AMSGrad's maximum
    is not the current second moment)."""
    out = {}
    for j, (name, w) in enumerate(PARAMS.items()):
        k = np.arange(len(w))
        g = np.sin(0.9 * k + 1.7 * step + 0.4 * j + 0.3) + 0.35
        if shrink:
            g = g * 0.6**step
        out[name] = f32(scale * g)
    return out


COSINE_WARMUP = {"className": "CosineDecay",
                 "config": {"initialLearningRate": 0.001, "decaySteps": 5, "warmupTarget": 0.02,
                            "warmupSteps": 3, "alpha": 0.1}}

OPTIMIZER_CASES = [
    ("sgd", "SGD", {"learningRate": 0.05}, {}),
    ("sgd_momentum", "SGD", {"learningRate": 0.03, "momentum": 0.9}, {}),
    ("sgd_nesterov", "SGD", {"learningRate": 0.03, "momentum": 0.9, "nesterov": True}, {}),
    ("sgd_weight_decay", "SGD", {"learningRate": 0.05, "momentum": 0.5, "weightDecay": 0.05}, {}),
    ("sgd_piecewise", "SGD",
     {"learningRate": {"className": "PiecewiseConstantDecay",
                       "config": {"boundaries": [2, 5], "values": [0.05, 0.02, 0.01]}}}, {}),
    ("sgd_ema_overwrite", "SGD",
     {"learningRate": 0.05, "momentum": 0.8, "useEma": True, "emaMomentum": 0.9,
      "emaOverwriteFrequency": 3}, {}),
    ("adam", "Adam", {"learningRate": 0.01}, {}),
    ("adam_amsgrad", "Adam", {"learningRate": 0.01, "amsgrad": True, "beta2": 0.9}, {"shrink": True}),
    ("adam_cosine_warmup_weight_decay", "Adam", {"learningRate": COSINE_WARMUP, "weightDecay": 0.02}, {}),
    ("adam_ema", "Adam", {"learningRate": 0.02, "useEma": True}, {}),
    ("adamw", "AdamW", {"learningRate": 0.01}, {}),
    ("adamw_exclude_bias", "AdamW",
     {"learningRate": 0.01, "weightDecay": 0.1, "excludeFromWeightDecay": ["bias"]}, {}),
    ("rmsprop", "RMSprop", {"learningRate": 0.01}, {}),
    ("rmsprop_momentum", "RMSprop", {"learningRate": 0.005, "momentum": 0.9, "rho": 0.8}, {}),
    ("rmsprop_centered", "RMSprop", {"learningRate": 0.01, "centered": True}, {}),
    ("rmsprop_centered_momentum", "RMSprop",
     {"learningRate": 0.005, "centered": True, "momentum": 0.5, "epsilon": 1e-6}, {}),
    ("adagrad", "Adagrad", {"learningRate": 0.05}, {}),
    ("adagrad_accumulator", "Adagrad",
     {"learningRate": 0.05, "initialAccumulatorValue": 0.5, "weightDecay": 0.01}, {}),
    ("nadam", "Nadam", {"learningRate": 0.01}, {}),
    ("nadam_exponential", "Nadam",
     {"learningRate": {"className": "ExponentialDecay",
                       "config": {"initialLearningRate": 0.02, "decaySteps": 3, "decayRate": 0.5}},
      "beta1": 0.8}, {}),
    ("lion", "Lion", {"learningRate": 0.01}, {}),
    ("lion_weight_decay", "Lion", {"learningRate": 0.005, "weightDecay": 0.5, "beta1": 0.8}, {}),
]

SCHEDULE_CASES = [
    ("exponential", {"className": "ExponentialDecay",
                     "config": {"initialLearningRate": 0.1, "decaySteps": 4, "decayRate": 0.5}}),
    ("exponential_staircase", {"className": "ExponentialDecay",
                               "config": {"initialLearningRate": 0.1, "decaySteps": 4, "decayRate": 0.5,
                                          "staircase": True}}),
    ("piecewise", {"className": "PiecewiseConstantDecay",
                   "config": {"boundaries": [3, 7, 8], "values": [1.0, 0.5, 0.25, 0.1]}}),
    ("cosine", {"className": "CosineDecay",
                "config": {"initialLearningRate": 0.1, "decaySteps": 10, "alpha": 0.1}}),
    ("cosine_warmup", {"className": "CosineDecay",
                       "config": {"initialLearningRate": 0.0, "decaySteps": 8, "warmupTarget": 0.1,
                                  "warmupSteps": 4}}),
    ("cosine_restarts", {"className": "CosineDecayRestarts",
                         "config": {"initialLearningRate": 0.1, "firstDecaySteps": 3, "mMul": 0.5,
                                    "alpha": 0.1}}),
    ("cosine_restarts_equal_periods", {"className": "CosineDecayRestarts",
                                       "config": {"initialLearningRate": 0.1, "firstDecaySteps": 4,
                                                  "tMul": 1.0}}),
    ("cosine_restarts_t_mul_1_5", {"className": "CosineDecayRestarts",
                                   "config": {"initialLearningRate": 0.1, "firstDecaySteps": 2,
                                              "tMul": 1.5, "mMul": 0.9}}),
    ("polynomial", {"className": "PolynomialDecay",
                    "config": {"initialLearningRate": 0.1, "decaySteps": 10}}),
    ("polynomial_power_cycle", {"className": "PolynomialDecay",
                                "config": {"initialLearningRate": 0.1, "decaySteps": 6, "endLearningRate": 0.01,
                                           "power": 2.0, "cycle": True}}),
]
SCHEDULE_STEPS = list(range(25))


def run_optimizer(class_name, config, grad_options):
    ref = Reference(class_name, config)
    params = {k: f32(v) for k, v in PARAMS.items()}
    grads, rates, expected, ema = [], [], [], []
    for step in range(STEPS):
        g = gradients(step, **grad_options)
        rates.append(ref.step(params, g))
        grads.append({k: v.tolist() for k, v in g.items()})
        expected.append({k: v.tolist() for k, v in params.items()})
        if ref.o["useEma"]:
            ema.append({k: v.tolist() for k, v in ref.ema.items()})
        # Relative tolerances are meaningful only away from 0.
        assert all(np.all(np.abs(v) > 0.1) for v in params.values()), (class_name, config, step, params)
    case = {"className": class_name, "config": config, "params": {k: f32(v).tolist() for k, v in PARAMS.items()},
            "grads": grads, "learningRates": rates, "expected": expected}
    if ema:
        case["ema"] = ema
    return case


def main():
    if "--keras" in sys.argv:
        return check_against_keras()
    out = {
        "about": "Written by optim_reference.py (NumPy float64, Keras 3 rules); read by optim_reference.rs.",
        "optimizers": {name: run_optimizer(cls, cfg, go) for name, cls, cfg, go in OPTIMIZER_CASES},
        "schedules": {
            name: {"schedule": s, "steps": SCHEDULE_STEPS, "rates": [rate(s, t) for t in SCHEDULE_STEPS]}
            for name, s in SCHEDULE_CASES
        },
    }
    path = os.path.join(HERE, "optim_reference.json")
    # One line per case, so a change shows as the cases it touches.
    with open(path, "w") as f:
        f.write('{"about": %s,\n' % json.dumps(out["about"]))
        for i, key in enumerate(["optimizers", "schedules"]):
            f.write(' "%s": {\n' % key)
            items = list(out[key].items())
            for j, (name, case) in enumerate(items):
                f.write("  %s: %s%s\n" % (json.dumps(name), json.dumps(case), "," if j + 1 < len(items) else ""))
            f.write(" }%s\n" % ("," if i == 0 else ""))
        f.write("}\n")
    print(f"wrote {path}: {len(out['optimizers'])} optimizer cases, {len(out['schedules'])} schedules")


# ---------------------------------------------------------------- optional: real Keras

SNAKE = {"learningRate": "learning_rate", "beta1": "beta_1", "beta2": "beta_2", "weightDecay": "weight_decay",
         "useEma": "use_ema", "emaMomentum": "ema_momentum", "emaOverwriteFrequency": "ema_overwrite_frequency",
         "initialAccumulatorValue": "initial_accumulator_value", "initialLearningRate": "initial_learning_rate",
         "decaySteps": "decay_steps", "decayRate": "decay_rate", "warmupTarget": "warmup_target",
         "warmupSteps": "warmup_steps", "firstDecaySteps": "first_decay_steps", "tMul": "t_mul", "mMul": "m_mul",
         "endLearningRate": "end_learning_rate"}


def check_against_keras():
    import keras

    def schedule(s):
        return getattr(keras.optimizers.schedules, s["className"])(
            **{SNAKE.get(k, k): v for k, v in s["config"].items()})

    worst = 0.0

    def compare(what, got, want):
        nonlocal worst
        got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
        err = float(np.max(np.abs(got - want) / np.maximum(np.abs(want), 1e-12)))
        worst = max(worst, err)
        assert err < 1e-5, (what, err, got, want)

    for name, s in SCHEDULE_CASES:
        sch = schedule(s)
        compare(name, [float(sch(t)) for t in SCHEDULE_STEPS], [rate(s, t) for t in SCHEDULE_STEPS])
    for name, class_name, config, grad_options in OPTIMIZER_CASES:
        kw = {SNAKE.get(k, k): v for k, v in config.items() if k != "excludeFromWeightDecay"}
        if isinstance(config.get("learningRate"), dict):
            kw["learning_rate"] = schedule(config["learningRate"])
        opt = getattr(keras.optimizers, class_name)(**kw)
        # Keras variable names may not hold '/'.
        variables = {k: keras.Variable(np.asarray(v, np.float32), name=k.replace("/", "_")) for k, v in PARAMS.items()}
        if config.get("excludeFromWeightDecay"):
            opt.exclude_from_weight_decay(var_names=config["excludeFromWeightDecay"])
        reference = run_optimizer(class_name, config, grad_options)
        for step in range(STEPS):
            g = gradients(step, **grad_options)
            opt.apply([np.asarray(g[k], np.float32) for k in variables], list(variables.values()))
            for k, v in variables.items():
                compare(f"{name} step {step} {k}", keras.ops.convert_to_numpy(v), reference["expected"][step][k])
        if config.get("useEma"):
            opt.finalize_variable_values(list(variables.values()))
            for k, v in variables.items():
                compare(f"{name} finalized {k}", keras.ops.convert_to_numpy(v), reference["ema"][-1][k])
    print(f"Keras {keras.__version__} ({keras.backend.backend()}) agrees with the reference: "
          f"{len(OPTIMIZER_CASES)} optimizer cases, {len(SCHEDULE_CASES)} schedules, worst relative error {worst:.2e}")


if __name__ == "__main__":
    main()
