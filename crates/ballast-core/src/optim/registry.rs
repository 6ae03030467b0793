//! The optimizer registry: every optimizer by its Keras class name, with its defaults and the
//! constructor that reads its config.

use crate::error::Error;
use crate::nn::config::Json;
use crate::Result;

use super::options::{prefixed, split, CommonOptions};
use super::{
    Adagrad, AdagradOptions, Adam, AdamOptions, Lion, LionOptions, Nadam, NadamOptions, Optimizer, RmsProp,
    RmsPropOptions, Sgd, SgdOptions,
};

/// One optimizer class: its Keras name, the defaults of the common options that differ
/// between optimizers, its own option keys and its constructor from them.
pub struct OptimizerKind {
    pub class_name: &'static str,
    pub default_learning_rate: f64,
    pub default_weight_decay: Option<f32>,
    /// Its own option keys (the common ones are [`CommonOptions::KEYS`]).
    pub keys: &'static [&'static str],
    /// From the common options and the object of its own options.
    make: fn(CommonOptions, &Json) -> Result<Box<dyn Optimizer>>,
}

/// Every optimizer, in the order error messages list them.
pub const KINDS: &[OptimizerKind] = &[
    OptimizerKind {
        class_name: Sgd::CLASS_NAME,
        default_learning_rate: Sgd::DEFAULT_LEARNING_RATE,
        default_weight_decay: None,
        keys: SgdOptions::KEYS,
        make: |c, o| Ok(Box::new(Sgd::with_options(c, own(Sgd::CLASS_NAME, SgdOptions::from_json(o))?)?)),
    },
    OptimizerKind {
        class_name: Adam::CLASS_NAME,
        default_learning_rate: Adam::DEFAULT_LEARNING_RATE,
        default_weight_decay: None,
        keys: AdamOptions::KEYS,
        make: |c, o| Ok(Box::new(Adam::with_options(c, own(Adam::CLASS_NAME, AdamOptions::from_json(o))?)?)),
    },
    OptimizerKind {
        class_name: Adam::ADAMW_CLASS_NAME,
        default_learning_rate: Adam::DEFAULT_LEARNING_RATE,
        default_weight_decay: Some(Adam::ADAMW_WEIGHT_DECAY),
        keys: AdamOptions::KEYS,
        make: |c, o| Ok(Box::new(Adam::adamw(c, own(Adam::ADAMW_CLASS_NAME, AdamOptions::from_json(o))?)?)),
    },
    OptimizerKind {
        class_name: RmsProp::CLASS_NAME,
        default_learning_rate: RmsProp::DEFAULT_LEARNING_RATE,
        default_weight_decay: None,
        keys: RmsPropOptions::KEYS,
        make: |c, o| Ok(Box::new(RmsProp::with_options(c, own(RmsProp::CLASS_NAME, RmsPropOptions::from_json(o))?)?)),
    },
    OptimizerKind {
        class_name: Adagrad::CLASS_NAME,
        default_learning_rate: Adagrad::DEFAULT_LEARNING_RATE,
        default_weight_decay: None,
        keys: AdagradOptions::KEYS,
        make: |c, o| Ok(Box::new(Adagrad::with_options(c, own(Adagrad::CLASS_NAME, AdagradOptions::from_json(o))?)?)),
    },
    OptimizerKind {
        class_name: Nadam::CLASS_NAME,
        default_learning_rate: Nadam::DEFAULT_LEARNING_RATE,
        default_weight_decay: None,
        keys: NadamOptions::KEYS,
        make: |c, o| Ok(Box::new(Nadam::with_options(c, own(Nadam::CLASS_NAME, NadamOptions::from_json(o))?)?)),
    },
    OptimizerKind {
        class_name: Lion::CLASS_NAME,
        default_learning_rate: Lion::DEFAULT_LEARNING_RATE,
        default_weight_decay: None,
        keys: LionOptions::KEYS,
        make: |c, o| Ok(Box::new(Lion::with_options(c, own(Lion::CLASS_NAME, LionOptions::from_json(o))?)?)),
    },
];

/// The class of `class_name`, matched without regard to case, so Keras's names (`SGD`,
/// `RMSprop`) and TF.js's (`sgd`, `rmsprop`) both find it.
pub fn find(class_name: &str) -> Result<&'static OptimizerKind> {
    KINDS.iter().find(|k| k.class_name.eq_ignore_ascii_case(class_name)).ok_or_else(|| {
        let known: Vec<&str> = KINDS.iter().map(|k| k.class_name).collect();
        Error::argument(format!("unknown optimizer '{class_name}' (known: {})", known.join(", ")))
    })
}

/// Makes an optimizer of class `class_name` (see [`find`]) from its config: an object of
/// camelCase options, each defaulting to Keras 3's value. Unknown and mistyped options and
/// impossible values are errors starting with the class name. `create(o.class_name(),
/// &o.config())` makes an optimizer like `o`, without its state.
pub fn create(class_name: &str, config: &Json) -> Result<Box<dyn Optimizer>> {
    let kind = find(class_name)?;
    let (common, own_options) = split(config, kind.keys, kind.default_learning_rate, kind.default_weight_decay)
        .map_err(|e| prefixed(kind.class_name, e))?;
    (kind.make)(common, &own_options)
}

/// The optimizer's own options, their type errors prefixed with `class` (the constructors
/// prefix their range errors themselves).
fn own<O>(class: &str, options: Result<O>) -> Result<O> {
    options.map_err(|e| prefixed(class, e))
}
