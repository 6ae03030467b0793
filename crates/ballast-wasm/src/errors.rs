use wasm_bindgen::JsValue;

/// A core error as a JS `Error` whose `name` says its kind.
pub fn to_js(err: ballast_core::Error) -> JsValue {
    let js = js_sys::Error::new(&err.message);
    js.set_name(err.kind.name());
    js.into()
}

pub trait IntoJs<T> {
    fn js(self) -> Result<T, JsValue>;
}

impl<T> IntoJs<T> for ballast_core::Result<T> {
    fn js(self) -> Result<T, JsValue> {
        self.map_err(to_js)
    }
}
