//! Layer configs and model specs cross the boundary as plain JavaScript objects; the core
//! reads them as JSON values. The walk checks every value's type itself (a function, a
//! symbol, NaN or a class instance where an option belongs is an `ArgumentError` naming the
//! path), so nothing reaches the core that it would misread.

use ballast_core::nn::config::{Json, Map};
use ballast_core::Error;
use js_sys::{Array, Object, Reflect};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};

// The look-ups of the walk that run the user's code (a Proxy's traps, getters) return its
// exception as an error: one crossing WASM uncaught would skip the unwinding of the call,
// leaving the model it was made on borrowed for good.
#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(catch, js_namespace = Object, js_name = keys)]
    fn object_keys(v: &JsValue) -> Result<Array, JsValue>;
    #[wasm_bindgen(catch, js_namespace = Array, js_name = from)]
    fn array_from(v: &JsValue) -> Result<Array, JsValue>;
    #[wasm_bindgen(catch, js_namespace = Array, js_name = isArray)]
    fn is_array(v: &JsValue) -> Result<bool, JsValue>;
}

/// Deep enough for any config; deeper is a cycle or a mistake.
const MAX_DEPTH: usize = 32;

/// `value` as JSON; `what` names it in errors ("options of Dense").
pub fn from_js(value: &JsValue, what: &str) -> Result<Json, Error> {
    walk(value, what, "", 0)
}

fn walk(v: &JsValue, what: &str, path: &str, depth: usize) -> Result<Json, Error> {
    let at = || if path.is_empty() { what.to_string() } else { format!("'{path}' of {what}") };
    if depth > MAX_DEPTH {
        return Err(Error::argument(format!("{} is nested too deeply (a cycle?)", at())));
    }
    if v.is_null() {
        return Ok(Json::Null);
    }
    if let Some(b) = v.as_bool() {
        return Ok(Json::Bool(b));
    }
    if let Some(f) = v.as_f64() {
        if !f.is_finite() {
            return Err(Error::argument(format!("{} must be a finite number, got {f}", at())));
        }
        // Whole numbers as integers, as JSON.parse would give them to the core.
        let whole = f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15;
        return Ok(if whole { Json::from(f as i64) } else { Json::from(f) });
    }
    if let Some(s) = v.as_string() {
        return Ok(Json::String(s));
    }
    let child = |key: &str| if path.is_empty() { key.to_string() } else { format!("{path}.{key}") };
    let unreadable = || Error::argument(format!("cannot read {} (reading it threw)", at()));
    // Asked first: a Proxy whose trap throws is refused here, before `instanceof` would run it.
    let proto = if v.is_object() { Some(Reflect::get_prototype_of(v).map_err(|_| unreadable())?) } else { None };
    // Typed arrays by their prototype, already read: `instanceof` would run the Proxy's
    // `getPrototypeOf` trap a second time, outside any catch.
    let proto_of = |typed: JsValue| Object::get_prototype_of(&typed);
    let integer_array = proto.as_ref().is_some_and(|p| {
        *p == proto_of(js_sys::Uint32Array::new_with_length(0).into())
            || *p == proto_of(js_sys::Int32Array::new_with_length(0).into())
    });
    if is_array(v).map_err(|_| unreadable())? || integer_array {
        let items = array_from(v).map_err(|_| unreadable())?;
        let mut out = Vec::with_capacity(items.length() as usize);
        for (i, item) in items.iter().enumerate() {
            out.push(walk(&item, what, &format!("{}[{i}]", if path.is_empty() { "" } else { path }), depth + 1)?);
        }
        return Ok(Json::Array(out));
    }
    let plain = proto.is_some_and(|p| p.is_null() || p == Object::get_prototype_of(&Object::new().into()));
    if !plain {
        let kind = match v.js_typeof().as_string().unwrap_or_default().as_str() {
            "undefined" => "undefined".to_string(),
            "object" => "an instance of a class".to_string(),
            other => format!("a {other}"),
        };
        return Err(Error::argument(format!(
            "{} must be a number, string, boolean, list or plain object, got {kind}",
            at()
        )));
    }
    let obj: &Object = v.unchecked_ref();
    let mut map = Map::new();
    for key in object_keys(obj).map_err(|_| unreadable())?.iter() {
        let k = key.as_string().unwrap_or_default();
        let value =
            Reflect::get(obj, &key).map_err(|_| Error::argument(format!("cannot read '{}' of {what}", child(&k))))?;
        // `undefined` is an option not given, as in `{ strides: undefined }`.
        if value.is_undefined() {
            continue;
        }
        map.insert(k.clone(), walk(&value, what, &child(&k), depth + 1)?);
    }
    Ok(Json::Object(map))
}

/// A plain object with these fields, for records that cross to JavaScript.
pub fn record(fields: &[(&str, JsValue)]) -> JsValue {
    let obj = Object::new();
    for (k, v) in fields {
        Reflect::set(&obj, &JsValue::from_str(k), v).expect("a plain object takes any key");
    }
    obj.into()
}

/// A JSON value as a plain JavaScript value (objects, arrays, numbers, strings, null).
pub fn to_js(v: &Json) -> JsValue {
    match v {
        Json::Null => JsValue::NULL,
        Json::Bool(b) => JsValue::from_bool(*b),
        Json::Number(n) => JsValue::from_f64(n.as_f64().unwrap_or(f64::NAN)),
        Json::String(s) => JsValue::from_str(s),
        Json::Array(a) => a.iter().map(to_js).collect::<Array>().into(),
        Json::Object(m) => {
            let obj = Object::new();
            for (k, v) in m {
                Reflect::set(&obj, &JsValue::from_str(k), &to_js(v)).expect("a plain object takes any key");
            }
            obj.into()
        }
    }
}
