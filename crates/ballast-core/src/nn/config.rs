//! Layer configurations, declared once with their Keras names and defaults.
//!
//! A layer's options arrive as a JSON-like object (camelCase keys, as the TypeScript API and
//! `model.json` spell them) and leave the same way, resolved, so the TypeScript factories,
//! the save format and the core read one declaration. [`layer_config!`] declares a config
//! struct field by field: its key, its type and its default (none: the option is required).
//! Every option is checked for its type when read, and an unknown option is an error rather
//! than silently ignored.

use crate::error::Error;
use crate::kernels::conv::Padding;
use crate::kernels::upsample::Interpolation;
use crate::Result;
pub use serde_json::{Map, Value as Json};

use super::{Activation, Initializer};

/// A type an option can have: read from JSON with a message saying what was expected.
pub trait ConfigValue: Sized {
    /// What the option must be, for error messages ("a positive integer").
    const EXPECTED: &'static str;
    fn read(v: &Json) -> Option<Self>;
    fn write(&self) -> Json;
}

/// A short rendering of a value a user gave, for error messages.
pub fn describe(v: &Json) -> String {
    let s = v.to_string();
    match s.char_indices().nth(40) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s,
    }
}

/// Reads option `key` of `obj`: the default when absent, an error naming the option, what it
/// must be and what it got when mistyped. (The registry prefixes the layer.)
pub fn option<T: ConfigValue>(obj: &Map<String, Json>, key: &str, default: Option<T>) -> Result<T> {
    match obj.get(key) {
        None => default.ok_or_else(|| Error::argument(format!("option '{key}' is required ({})", T::EXPECTED))),
        Some(v) => T::read(v)
            .ok_or_else(|| Error::argument(format!("option '{key}' must be {}, got {}", T::EXPECTED, describe(v)))),
    }
}

/// Refuses keys that are not options of the layer, listing those that are.
pub fn check_keys(obj: &Map<String, Json>, known: &[&str]) -> Result<()> {
    if let Some(k) = obj.keys().find(|k| !known.contains(&k.as_str())) {
        let options =
            if known.is_empty() { "it has none".to_string() } else { format!("options: {}", known.join(", ")) };
        return Err(Error::argument(format!("unknown option '{k}' ({options})")));
    }
    Ok(())
}

/// The options object of a config, or an error when it is not an object.
pub fn as_object(v: &Json) -> Result<&Map<String, Json>> {
    v.as_object().ok_or_else(|| Error::argument(format!("options must be an object, got {}", describe(v))))
}

/// Declares a layer's config struct: each field with its camelCase key, type and default
/// (omit the default for a required option). Generates the struct, `from_json` (defaults,
/// type checks, unknown keys refused) and `to_json` (every option, resolved). The struct is
/// `Copy`; start the declaration with `@clone` for one with fields that are not (lists).
macro_rules! layer_config {
    (
        @clone
        $(#[$meta:meta])*
        pub struct $name:ident { $($body:tt)* }
    ) => {
        layer_config!(@declare [Clone, Debug, PartialEq] $(#[$meta])* pub struct $name { $($body)* });
    };
    (
        $(#[$meta:meta])*
        pub struct $name:ident { $($body:tt)* }
    ) => {
        layer_config!(@declare [Clone, Copy, Debug, PartialEq] $(#[$meta])* pub struct $name { $($body)* });
    };
    (
        @declare [$($derive:ident),*]
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* $field:ident $key:literal : $ty:ty $(= $default:expr)? ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive($($derive),*)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        impl $name {
            /// The option keys, in declaration order.
            pub const KEYS: &'static [&'static str] = &[$($key),*];

            pub fn from_json(v: &$crate::nn::config::Json) -> $crate::Result<Self> {
                let obj = $crate::nn::config::as_object(v)?;
                $crate::nn::config::check_keys(obj, Self::KEYS)?;
                Ok($name {
                    $( $field: $crate::nn::config::option::<$ty>(
                        obj, $key, layer_config!(@default $($default)?))?, )*
                })
            }

            #[allow(clippy::wrong_self_convention)] // by reference: some configs are not `Copy`
            pub fn to_json(&self) -> $crate::nn::config::Json {
                #[allow(unused_mut)] // a config without options
                let mut m = $crate::nn::config::Map::new();
                $( m.insert($key.to_string(), $crate::nn::config::ConfigValue::write(&self.$field)); )*
                $crate::nn::config::Json::Object(m)
            }
        }
    };
    (@default) => { None };
    (@default $e:expr) => { Some($e) };
}
pub(crate) use layer_config;

/// Integers cross JavaScript as doubles: accept whole numbers up to 2^53 and refuse the rest,
/// so `2**32 + 1` is not silently wrapped.
fn whole(v: &Json) -> Option<u64> {
    let f = v.as_f64()?;
    (f.fract() == 0.0 && (0.0..=9_007_199_254_740_992.0).contains(&f)).then_some(f as u64)
}

impl ConfigValue for usize {
    const EXPECTED: &'static str = "a non-negative integer";
    fn read(v: &Json) -> Option<Self> {
        whole(v).and_then(|n| usize::try_from(n).ok())
    }
    fn write(&self) -> Json {
        Json::from(*self as u64)
    }
}

/// Seeds: whole numbers up to 2^53, as JavaScript numbers hold them exactly.
impl ConfigValue for u64 {
    const EXPECTED: &'static str = "a non-negative integer";
    fn read(v: &Json) -> Option<Self> {
        whole(v)
    }
    fn write(&self) -> Json {
        Json::from(*self)
    }
}

impl ConfigValue for isize {
    const EXPECTED: &'static str = "an integer";
    fn read(v: &Json) -> Option<Self> {
        let f = v.as_f64()?;
        (f.fract() == 0.0 && f.abs() <= isize::MAX as f64).then_some(f as isize)
    }
    fn write(&self) -> Json {
        Json::from(*self as i64)
    }
}

impl ConfigValue for f32 {
    const EXPECTED: &'static str = "a finite number";
    fn read(v: &Json) -> Option<Self> {
        // Finite as an f32 too: 1e300 is not silently infinite.
        v.as_f64().map(|f| f as f32).filter(|f| f.is_finite())
    }
    fn write(&self) -> Json {
        // Through the shortest decimal of the f32, so 0.99 is written as 0.99.
        self.to_string().parse::<f64>().map_or(Json::Null, Json::from)
    }
}

impl ConfigValue for bool {
    const EXPECTED: &'static str = "true or false";
    fn read(v: &Json) -> Option<Self> {
        v.as_bool()
    }
    fn write(&self) -> Json {
        Json::Bool(*self)
    }
}

/// `null` for none.
impl<T: ConfigValue> ConfigValue for Option<T> {
    const EXPECTED: &'static str = T::EXPECTED;
    fn read(v: &Json) -> Option<Self> {
        if v.is_null() {
            Some(None)
        } else {
            T::read(v).map(Some)
        }
    }
    fn write(&self) -> Json {
        self.as_ref().map_or(Json::Null, T::write)
    }
}

/// A pair of positive integers (height, width), given as one number or two.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pair(pub usize, pub usize);

impl Pair {
    pub fn tuple(self) -> (usize, usize) {
        (self.0, self.1)
    }
}

impl ConfigValue for Pair {
    const EXPECTED: &'static str = "a positive integer or a pair of them";
    fn read(v: &Json) -> Option<Self> {
        let positive = |v: &Json| usize::read(v).filter(|&n| n > 0);
        match v {
            Json::Array(a) if a.len() == 2 => Some(Pair(positive(&a[0])?, positive(&a[1])?)),
            Json::Number(_) => positive(v).map(|n| Pair(n, n)),
            _ => None,
        }
    }
    fn write(&self) -> Json {
        Json::from(vec![self.0 as u64, self.1 as u64])
    }
}

/// Rows and columns added or removed on each side of an image: Keras' `padding` of
/// `ZeroPadding2D` and `cropping` of `Cropping2D`. Given as one number (every side), a pair
/// `[height, width]` (symmetric: `height` rows on top and at the bottom, `width` columns on
/// the left and the right) or `[[top, bottom], [left, right]]`, as Keras takes them; written
/// in the last form, as Keras' `get_config` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sides {
    pub top: usize,
    pub bottom: usize,
    pub left: usize,
    pub right: usize,
}

impl Sides {
    pub const fn all(n: usize) -> Sides {
        Sides { top: n, bottom: n, left: n, right: n }
    }
    /// `((top, bottom), (left, right))`.
    pub fn pairs(self) -> ((usize, usize), (usize, usize)) {
        ((self.top, self.bottom), (self.left, self.right))
    }
}

impl ConfigValue for Sides {
    const EXPECTED: &'static str =
        "a non-negative integer, a pair [height, width] or [[top, bottom], [left, right]] of them";
    fn read(v: &Json) -> Option<Self> {
        let pair = |v: &Json| match v.as_array().map(Vec::as_slice) {
            Some([a, b]) => Some((usize::read(a)?, usize::read(b)?)),
            _ => None,
        };
        match v {
            Json::Number(_) => usize::read(v).map(Sides::all),
            Json::Array(a) if a.len() == 2 && a.iter().all(Json::is_number) => {
                let (h, w) = pair(v)?;
                Some(Sides { top: h, bottom: h, left: w, right: w })
            }
            Json::Array(a) if a.len() == 2 => {
                let ((top, bottom), (left, right)) = (pair(&a[0])?, pair(&a[1])?);
                Some(Sides { top, bottom, left, right })
            }
            _ => None,
        }
    }
    fn write(&self) -> Json {
        let ((t, b), (l, r)) = self.pairs();
        Json::from(vec![vec![t as u64, b as u64], vec![l as u64, r as u64]])
    }
}

/// A list of integers (`Reshape`'s `targetShape`, where -1 stands for the rest).
impl ConfigValue for Vec<isize> {
    const EXPECTED: &'static str = "a list of integers";
    fn read(v: &Json) -> Option<Self> {
        v.as_array()?.iter().map(isize::read).collect()
    }
    fn write(&self) -> Json {
        Json::from(self.iter().map(|&d| d as i64).collect::<Vec<_>>())
    }
}

/// A list of non-negative integers (`Permute`'s `dims`).
impl ConfigValue for Vec<usize> {
    const EXPECTED: &'static str = "a list of non-negative integers";
    fn read(v: &Json) -> Option<Self> {
        v.as_array()?.iter().map(usize::read).collect()
    }
    fn write(&self) -> Json {
        Json::from(self.iter().map(|&d| d as u64).collect::<Vec<_>>())
    }
}

impl ConfigValue for f64 {
    const EXPECTED: &'static str = "a finite number";
    fn read(v: &Json) -> Option<Self> {
        v.as_f64().filter(|f| f.is_finite())
    }
    fn write(&self) -> Json {
        Json::from(*self)
    }
}

impl ConfigValue for String {
    const EXPECTED: &'static str = "a string";
    fn read(v: &Json) -> Option<Self> {
        v.as_str().map(str::to_string)
    }
    fn write(&self) -> Json {
        Json::String(self.clone())
    }
}

/// Lists, each element read as `T`.
macro_rules! list_value {
    ($t:ty, $expected:literal) => {
        impl ConfigValue for Vec<$t> {
            const EXPECTED: &'static str = $expected;
            fn read(v: &Json) -> Option<Self> {
                v.as_array()?.iter().map(<$t>::read).collect()
            }
            fn write(&self) -> Json {
                Json::Array(self.iter().map(ConfigValue::write).collect())
            }
        }
    };
}
list_value!(String, "a list of strings");
list_value!(f64, "a list of finite numbers");

/// A name from a fixed list, read through the type's own parser.
macro_rules! named_value {
    ($ty:ty, $expected:expr, $parse:expr, $write:expr) => {
        impl ConfigValue for $ty {
            const EXPECTED: &'static str = $expected;
            fn read(v: &Json) -> Option<Self> {
                v.as_str().and_then(|s| ($parse)(s).ok())
            }
            fn write(&self) -> Json {
                Json::String(($write)(self).to_string())
            }
        }
    };
}

named_value!(Activation, Activation::EXPECTED, Activation::parse, |a: &Activation| a.name());
named_value!(Padding, "'valid' or 'same'", Padding::parse, |p: &Padding| match p {
    Padding::Valid => "valid",
    Padding::Same => "same",
});
named_value!(
    Initializer,
    "one of 'zeros', 'ones', 'glorotUniform', 'glorotNormal', 'heUniform', 'heNormal', 'randomUniform'",
    Initializer::parse,
    |i: &Initializer| i.name()
);
named_value!(Interpolation, "'nearest' or 'bilinear'", Interpolation::parse, |i: &Interpolation| i.name());

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    layer_config! {
        pub struct Example {
            units "units": usize,
            rate "rate": f32 = 0.5,
            size "size": Pair = Pair(2, 2),
            bound "bound": Option<f32> = Some(1.0),
        }
    }

    #[test]
    fn defaults_types_and_unknown_keys() {
        let c = Example::from_json(&json!({ "units": 3, "size": 4 })).unwrap();
        assert_eq!(c, Example { units: 3, rate: 0.5, size: Pair(4, 4), bound: Some(1.0) });
        assert_eq!(c.to_json(), json!({ "units": 3, "rate": 0.5, "size": [4, 4], "bound": 1.0 }));
        assert_eq!(Example::from_json(&json!({ "units": 3, "bound": null })).unwrap().bound, None);
        let err = |v| Example::from_json(&v).unwrap_err().message;
        assert_eq!(err(json!({})), "option 'units' is required (a non-negative integer)");
        assert_eq!(err(json!({ "units": "3" })), "option 'units' must be a non-negative integer, got \"3\"");
        assert!(err(json!({ "units": 4294967297.5 })).contains("must be a non-negative integer"));
        assert!(err(json!({ "units": 1, "size": [2, 0] })).contains("a positive integer or a pair"));
        assert_eq!(err(json!({ "units": 1, "unit": 2 })), "unknown option 'unit' (options: units, rate, size, bound)");
        assert!(err(json!([1])).contains("options must be an object"));
    }
}
