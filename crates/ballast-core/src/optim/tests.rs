use serde_json::json;

use super::*;
use crate::ErrorKind;

fn param(v: &[f32]) -> Param {
    Param::new("l", "w", Tensor::new(v.to_vec(), &[v.len()]).unwrap())
}

fn t(v: &[f32]) -> Tensor {
    Tensor::new(v.to_vec(), &[v.len()]).unwrap()
}

fn err(class: &str, config: Json) -> String {
    create(class, &config).err().expect("an error").message
}

#[test]
fn sgd_momentum_and_nesterov_follow_keras() {
    let g = [t(&[1.0, -2.0])];
    let mut p = param(&[0.0, 0.0]);
    let mut sgd = Sgd::new(0.1, 0.9, false).unwrap();
    sgd.step(&mut [&mut p], &g).unwrap();
    sgd.step(&mut [&mut p], &g).unwrap();
    // v1 = −0.1g, w1 = −0.1g; v2 = 0.9·v1 − 0.1g = −0.19g, w2 = −0.29g
    assert!((p.value.data()[0] + 0.29).abs() < 1e-6 && (p.value.data()[1] - 0.58).abs() < 1e-6);
    let mut q = param(&[0.0, 0.0]);
    let mut nag = Sgd::new(0.1, 0.9, true).unwrap();
    nag.step(&mut [&mut q], &g).unwrap();
    // v1 = −0.1g; w1 = 0.9·v1 − 0.1g = −0.19g
    assert!((q.value.data()[0] + 0.19).abs() < 1e-6);
}

#[test]
fn adam_first_step_is_lr_times_sign() {
    let mut p = param(&[1.0, 1.0]);
    let mut adam = Adam::keras_defaults();
    adam.step(&mut [&mut p], &[t(&[0.5, -3.0])]).unwrap();
    assert!((p.value.data()[0] - (1.0 - 1e-3)).abs() < 1e-6, "{:?}", p.value.data());
    assert!((p.value.data()[1] - (1.0 + 1e-3)).abs() < 1e-6);
    assert_eq!(adam.iterations(), 1);
}

#[test]
fn state_follows_the_parameter_name_not_its_position() {
    let (mut a, mut b) = (Param::new("a", "w", t(&[0.0])), Param::new("b", "w", t(&[0.0])));
    let mut sgd = Sgd::new(0.1, 0.5, false).unwrap();
    sgd.step(&mut [&mut a, &mut b], &[t(&[1.0]), t(&[-1.0])]).unwrap(); // v_a = −0.1, v_b = 0.1
    sgd.step(&mut [&mut b], &[t(&[-1.0])]).unwrap(); // a frozen: v_b = 0.15
    sgd.step(&mut [&mut a], &[t(&[0.0])]).unwrap(); // b frozen: v_a = 0.5·(−0.1)
    assert!((a.value.data()[0] + 0.15).abs() < 1e-6, "a = {}", a.value.data()[0]);
    assert!((b.value.data()[0] - 0.25).abs() < 1e-6, "b = {}", b.value.data()[0]);
    let mut wrong = Param::new("a", "w", Tensor::zeros(&[2]));
    let err = sgd.step(&mut [&mut wrong], &[Tensor::zeros(&[2])]).unwrap_err();
    assert!(err.message.contains("parameter 'a/w' has 2 values"), "{}", err.message);
    // The same holds for every optimizer, the moving averages included.
    for class in registry::KINDS.iter().map(|k| k.class_name) {
        let mut opt = create(class, &json!({ "useEma": true })).unwrap();
        let (mut a, mut b) = (Param::new("a", "w", t(&[1.0])), Param::new("b", "w", t(&[1.0])));
        let mut twin = create(class, &json!({ "useEma": true })).unwrap();
        let mut alone = Param::new("a", "w", t(&[1.0]));
        opt.step(&mut [&mut a, &mut b], &[t(&[0.5]), t(&[-2.0])]).unwrap();
        opt.step(&mut [&mut b], &[t(&[-2.0])]).unwrap();
        opt.step(&mut [&mut a], &[t(&[0.5])]).unwrap();
        // `a` saw the same gradients as a lone `a` would have, at steps 1 and 3; Adam-like
        // rules depend on the step count, so compare with a twin stepped on `b` alone at 2.
        let mut other = Param::new("c", "w", t(&[1.0]));
        twin.step(&mut [&mut alone], &[t(&[0.5])]).unwrap();
        twin.step(&mut [&mut other], &[t(&[-2.0])]).unwrap();
        twin.step(&mut [&mut alone], &[t(&[0.5])]).unwrap();
        assert_eq!(a.value.data(), alone.value.data(), "{class}");
        assert_eq!(opt.ema_weights("a/w"), twin.ema_weights("a/w"), "{class}");
    }
}

#[test]
fn a_failing_step_changes_nothing() {
    for class in registry::KINDS.iter().map(|k| k.class_name) {
        let mut opt = create(class, &json!({ "useEma": true, "weightDecay": 0.1 })).unwrap();
        let (mut a, mut b) = (param(&[1.0, 2.0]), Param::new("m", "w", t(&[3.0])));
        opt.step(&mut [&mut a], &[t(&[0.1, 0.2])]).unwrap();
        let before = (a.value.clone(), b.value.clone(), opt.ema_weights("l/w").unwrap().to_vec());
        // The second gradient has the wrong shape: the first parameter must not move either.
        let e = opt.step(&mut [&mut a, &mut b], &[t(&[0.1, 0.2]), t(&[1.0, 1.0])]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Shape, "{class}");
        assert_eq!((a.value.clone(), b.value.clone(), opt.ema_weights("l/w").unwrap().to_vec()), before, "{class}");
        assert_eq!(opt.iterations(), 1, "{class}");
        // And the next step is the one a fresh run would make.
        let mut fresh = create(class, &json!({ "useEma": true, "weightDecay": 0.1 })).unwrap();
        let mut c = param(&[1.0, 2.0]);
        fresh.step(&mut [&mut c], &[t(&[0.1, 0.2])]).unwrap();
        fresh.step(&mut [&mut c], &[t(&[0.3, -0.2])]).unwrap();
        opt.step(&mut [&mut a], &[t(&[0.3, -0.2])]).unwrap();
        assert_eq!(a.value.data(), c.value.data(), "{class}");
        assert!(opt.step(&mut [&mut a], &[]).is_err());
    }
}

#[test]
fn registry_takes_keras_and_tfjs_names() {
    let names = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Nadam", "Lion"];
    assert_eq!(registry::KINDS.iter().map(|k| k.class_name).collect::<Vec<_>>(), names);
    for name in names {
        assert_eq!(create(name, &json!({})).unwrap().class_name(), name);
        assert_eq!(create(&name.to_lowercase(), &json!({})).unwrap().class_name(), name);
    }
    assert_eq!(create("RMSProp", &json!({})).unwrap().class_name(), "RMSprop");
    assert_eq!(
        err("Adadelta", json!({})),
        "unknown optimizer 'Adadelta' (known: SGD, Adam, AdamW, RMSprop, Adagrad, Nadam, Lion)"
    );
}

#[test]
fn configs_hold_every_option_with_keras_defaults() {
    let common = json!({
        "weightDecay": null, "excludeFromWeightDecay": [], "useEma": false, "emaMomentum": 0.99,
        "emaOverwriteFrequency": null
    });
    let with = |own: Json| {
        let mut m = own.as_object().unwrap().clone();
        m.extend(common.as_object().unwrap().clone());
        Json::Object(m)
    };
    let expect = [
        ("SGD", with(json!({ "learningRate": 0.01, "momentum": 0.0, "nesterov": false }))),
        (
            "Adam",
            with(json!({ "learningRate": 0.001, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-7, "amsgrad": false })),
        ),
        (
            "RMSprop",
            with(json!({ "learningRate": 0.001, "rho": 0.9, "momentum": 0.0, "epsilon": 1e-7, "centered": false })),
        ),
        ("Adagrad", with(json!({ "learningRate": 0.001, "initialAccumulatorValue": 0.1, "epsilon": 1e-7 }))),
        ("Nadam", with(json!({ "learningRate": 0.001, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-7 }))),
        ("Lion", with(json!({ "learningRate": 0.001, "beta1": 0.9, "beta2": 0.99 }))),
    ];
    for (class, config) in expect {
        let got = create(class, &json!({})).unwrap().config();
        assert_eq!(got, config, "{class}");
        // Same keys in the same order: learningRate, the optimizer's own, the common rest.
        let keys = |v: &Json| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&got), keys(&config), "{class}");
    }
    assert_eq!(create("AdamW", &json!({})).unwrap().config()["weightDecay"], json!(0.004));
    assert_eq!(Adam::keras_defaults().config(), create("Adam", &json!({})).unwrap().config());
    assert_eq!(Sgd::new(0.01, 0.0, false).unwrap().config(), create("SGD", &json!({})).unwrap().config());
}

#[test]
fn a_config_round_trips_to_an_identical_optimizer() {
    let cosine = json!({ "className": "CosineDecay", "config": { "initialLearningRate": 0.0, "decaySteps": 5, "warmupTarget": 0.05, "warmupSteps": 2, "alpha": 0.1 } });
    let cases = [
        ("SGD", json!({ "learningRate": 0.05, "momentum": 0.9, "nesterov": true, "weightDecay": 0.01 })),
        ("Adam", json!({ "learningRate": cosine, "amsgrad": true, "useEma": true, "emaOverwriteFrequency": 3 })),
        ("AdamW", json!({ "weightDecay": 0.1, "excludeFromWeightDecay": ["bias"], "beta2": 0.99 })),
        ("RMSprop", json!({ "centered": true, "momentum": 0.5, "rho": 0.8 })),
        (
            "Adagrad",
            json!({ "initialAccumulatorValue": 0.5, "learningRate": { "className": "ExponentialDecay", "config": { "initialLearningRate": 0.1, "decaySteps": 2, "decayRate": 0.5 } } }),
        ),
        ("Nadam", json!({ "learningRate": 0.01, "epsilon": 1e-6, "emaMomentum": 0.9, "useEma": true })),
        (
            "Lion",
            json!({ "learningRate": { "className": "PiecewiseConstantDecay", "config": { "boundaries": [1, 3], "values": [0.01, 0.005, 0.001] } } }),
        ),
    ];
    for (class, options) in cases {
        let mut a = create(class, &options).unwrap();
        let mut b = create(a.class_name(), &a.config()).unwrap();
        assert_eq!(b.config(), a.config(), "{class}");
        let (mut pa, mut pb) = (param(&[1.0, -2.0, 0.5]), param(&[1.0, -2.0, 0.5]));
        for step in 0..6 {
            let g = t(&[0.3 - step as f32 * 0.1, 1.0, -0.7]);
            a.step(&mut [&mut pa], std::slice::from_ref(&g)).unwrap();
            b.step(&mut [&mut pb], &[g]).unwrap();
        }
        assert_eq!(pa.value.data(), pb.value.data(), "{class}");
        assert_eq!(a.learning_rate(), b.learning_rate(), "{class}");
        assert_ne!(pa.value.data(), &[1.0, -2.0, 0.5], "{class}");
    }
}

#[test]
fn impossible_options_are_argument_errors_naming_optimizer_and_option() {
    let cases = [
        ("SGD", json!({ "learningRate": -0.1 }), "SGD: option 'learningRate' must be a finite number ≥ 0, got -0.1"),
        ("SGD", json!({ "momentum": 1.0 }), "SGD: option 'momentum' must be in [0, 1), got 1"),
        ("SGD", json!({ "momentum": -0.5 }), "SGD: option 'momentum' must be in [0, 1), got -0.5"),
        ("Adam", json!({ "beta1": 1.0 }), "Adam: option 'beta1' must be in [0, 1), got 1"),
        ("Nadam", json!({ "beta2": -0.1 }), "Nadam: option 'beta2' must be in [0, 1), got -0.1"),
        ("Adam", json!({ "epsilon": -1e-7 }), "Adam: option 'epsilon' must be a number ≥ 0, got -0.0000001"),
        ("AdamW", json!({ "weightDecay": -0.01 }), "AdamW: option 'weightDecay' must be a number ≥ 0, got -0.01"),
        ("RMSprop", json!({ "rho": 1.0 }), "RMSprop: option 'rho' must be in [0, 1), got 1"),
        ("RMSprop", json!({ "momentum": 1.5 }), "RMSprop: option 'momentum' must be in [0, 1), got 1.5"),
        ("Adagrad", json!({ "initialAccumulatorValue": -1 }), "Adagrad: option 'initialAccumulatorValue' must be a number ≥ 0, got -1"),
        ("Lion", json!({ "beta1": 0.0 }), "Lion: option 'beta1' must be in (0, 1), got 0"),
        ("Lion", json!({ "emaMomentum": 1.5 }), "Lion: option 'emaMomentum' must be in [0, 1], got 1.5"),
        ("Adam", json!({ "emaOverwriteFrequency": 0 }), "Adam: option 'emaOverwriteFrequency' must be at least 1 or null, got 0"),
        ("AdamW", json!({ "weightDecay": null }), "AdamW: option 'weightDecay' must be a number (AdamW is Adam with weight decay; use Adam for none)"),
        ("Adam", json!({ "beta1": "0.9" }), "Adam: option 'beta1' must be a finite number, got \"0.9\""),
        ("Adam", json!({ "learningRate": "fast" }), "Adam: option 'learningRate': must be a number or a schedule { className, config }, got \"fast\""),
        ("Adam", json!({ "learningRate": { "className": "CosineDecay", "config": { "decaySteps": 3 } } }), "Adam: option 'learningRate': CosineDecay: option 'initialLearningRate' is required (a finite number)"),
        ("Adam", json!({ "excludeFromWeightDecay": "bias" }), "Adam: option 'excludeFromWeightDecay' must be a list of strings, got \"bias\""),
        ("Adam", json!({ "beta_1": 0.9 }), "Adam: unknown option 'beta_1' (options: learningRate, beta1, beta2, epsilon, amsgrad, weightDecay, excludeFromWeightDecay, useEma, emaMomentum, emaOverwriteFrequency)"),
        ("SGD", json!({ "clipnorm": 1.0 }), "SGD: option 'clipnorm' is not an optimizer option here: gradient clipping is set on the model (clipNorm, clipValue)"),
        ("SGD", json!([]), "SGD: options must be an object, got []"),
    ];
    for (class, options, message) in cases {
        let e = create(class, &options).err().expect(message);
        assert_eq!(e.message, message);
        assert_eq!(e.kind, ErrorKind::Argument, "{message}");
    }
    // Values JSON cannot carry come through the Rust constructors.
    assert!(Adam::new(-1.0, 0.9, 0.999, 1e-7).is_err());
    assert!(Sgd::new(0.1, 1.5, false).is_err());
    let nan = Adam::with_options(CommonOptions::new(f64::NAN), AdamOptions::default()).err().unwrap();
    assert_eq!(nan.message, "Adam: option 'learningRate' must be a finite number ≥ 0, got NaN");
    let inf =
        RmsProp::with_options(CommonOptions::new(0.1), RmsPropOptions { epsilon: f32::INFINITY, ..Default::default() });
    assert!(inf.err().unwrap().message.starts_with("RMSprop: option 'epsilon'"));
    let mut p = param(&[1.0]);
    let e = Adam::keras_defaults().step(&mut [&mut p], &[Tensor::zeros(&[2])]).unwrap_err();
    assert!(e.message.contains("'l/w'"));
}

#[test]
fn a_scheduled_rate_cannot_be_set_and_a_constant_can() {
    let schedule = json!({ "className": "ExponentialDecay", "config": { "initialLearningRate": 0.1, "decaySteps": 1, "decayRate": 0.5 } });
    let mut opt = create("SGD", &json!({ "learningRate": schedule })).unwrap();
    assert_eq!(opt.learning_rate(), 0.1);
    let mut p = param(&[1.0]);
    opt.step(&mut [&mut p], &[t(&[1.0])]).unwrap(); // at rate 0.1
    assert_eq!(opt.learning_rate(), 0.05);
    opt.step(&mut [&mut p], &[t(&[1.0])]).unwrap(); // at 0.05
    assert!((p.value.data()[0] - 0.85).abs() < 1e-6);
    let e = opt.set_learning_rate(0.01).unwrap_err();
    assert_eq!(e.kind, ErrorKind::State);
    assert!(
        e.message.starts_with("SGD: the learning rate follows a schedule (ExponentialDecay) and cannot be set"),
        "{}",
        e.message
    );
    let mut resolved = schedule.clone();
    resolved["config"]["staircase"] = json!(false);
    assert_eq!(opt.config()["learningRate"], resolved);

    let mut opt = Adam::keras_defaults();
    opt.set_learning_rate(0.01).unwrap();
    assert_eq!(opt.learning_rate(), 0.01);
    assert_eq!(opt.config()["learningRate"], json!(0.01));
    assert_eq!(opt.set_learning_rate(-1.0).unwrap_err().kind, ErrorKind::Argument);
    assert!(opt.set_learning_rate(f64::INFINITY).is_err());
    assert_eq!(opt.learning_rate(), 0.01);
}

#[test]
fn weight_decay_skips_excluded_names() {
    // SGD with a zero gradient moves only by the decay: w −= w·wd·lr.
    let mut opt =
        create("SGD", &json!({ "learningRate": 0.5, "weightDecay": 0.1, "excludeFromWeightDecay": ["bias", "gamma"] }))
            .unwrap();
    let mut kernel = Param::new("dense", "kernel", t(&[2.0]));
    let mut bias = Param::new("dense", "bias", t(&[2.0]));
    let mut gamma = Param::new("bn", "gamma", t(&[2.0]));
    opt.step(&mut [&mut kernel, &mut bias, &mut gamma], &[t(&[0.0]), t(&[0.0]), t(&[0.0])]).unwrap();
    assert!((kernel.value.data()[0] - 1.9).abs() < 1e-6);
    assert_eq!((bias.value.data()[0], gamma.value.data()[0]), (2.0, 2.0));
    // Lion with a zero gradient and momentum does not move (sign 0 is 0), unlike signum.
    let mut lion = create("Lion", &json!({})).unwrap();
    let mut w = param(&[1.0, -1.0]);
    lion.step(&mut [&mut w], &[t(&[0.0, 0.0])]).unwrap();
    assert_eq!(w.value.data(), &[1.0, -1.0]);
}

#[test]
fn moving_averages_follow_keras() {
    let mut opt = create("SGD", &json!({ "learningRate": 1.0, "useEma": true, "emaMomentum": 0.5 })).unwrap();
    let mut p = param(&[0.0]);
    assert_eq!(opt.ema_weights("l/w"), None);
    opt.step(&mut [&mut p], &[t(&[-1.0])]).unwrap(); // w = 1; the first step sets avg = w
    assert_eq!(opt.ema_weights("l/w"), Some(&[1.0][..]));
    opt.step(&mut [&mut p], &[t(&[-1.0])]).unwrap(); // w = 2; avg = 0.5·1 + 0.5·2
    assert_eq!(opt.ema_weights("l/w"), Some(&[1.5][..]));
    assert_eq!(p.value.data(), &[2.0]);
    opt.finalize_variable_values(&mut [&mut p]).unwrap();
    assert_eq!(p.value.data(), &[1.5]);
    let mut wrong = Param::new("l", "w", Tensor::zeros(&[3]));
    assert_eq!(opt.finalize_variable_values(&mut [&mut wrong]).unwrap_err().kind, ErrorKind::State);

    // Every 2 steps the weights become their averages.
    let mut opt =
        create("SGD", &json!({ "learningRate": 1.0, "useEma": true, "emaMomentum": 0.5, "emaOverwriteFrequency": 2 }))
            .unwrap();
    let mut p = param(&[0.0]);
    let mut seen = Vec::new();
    for _ in 0..4 {
        opt.step(&mut [&mut p], &[t(&[-1.0])]).unwrap();
        seen.push(p.value.data()[0]);
    }
    // w: 1 (avg 1); 2 → avg 1.5, overwritten; 2.5 (avg 2); 3.5 → avg 2.75, overwritten.
    assert_eq!(seen, [1.0, 1.5, 2.5, 2.75]);

    // Without useEma: no averages, and finalizing leaves the weights.
    let mut opt = Sgd::new(0.1, 0.0, false).unwrap();
    let mut p = param(&[1.0]);
    opt.step(&mut [&mut p], &[t(&[1.0])]).unwrap();
    assert_eq!(opt.ema_weights("l/w"), None);
    opt.finalize_variable_values(&mut [&mut p]).unwrap();
    assert!((p.value.data()[0] - 0.9).abs() < 1e-7);
}
