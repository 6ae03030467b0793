//! The layer registry: every layer kind by its Keras class name, with its default name and
//! the constructor that reads its config. Each layer file lists its own kinds (`KINDS`);
//! this file only gathers the families.

use super::config::{as_object, describe, Json};
use super::{Layer, LayerKind};
use crate::error::Error;
use crate::Result;

const FAMILIES: &[&[LayerKind]] = &[
    super::input::KINDS,
    super::dense::KINDS,
    super::conv2d::KINDS,
    super::conv2d_transpose::KINDS,
    super::depthwise::KINDS,
    super::pooling::KINDS,
    super::activation::KINDS,
    super::dropout::KINDS,
    super::batch_norm::KINDS,
    super::group_norm::KINDS,
    super::layer_norm::KINDS,
    super::merge::KINDS,
    super::reshaping::KINDS,
    super::embedding::KINDS,
    super::preprocessing::KINDS,
    super::normalization::KINDS,
];

/// Every registered kind.
pub fn kinds() -> impl Iterator<Item = &'static LayerKind> {
    FAMILIES.iter().flat_map(|f| f.iter())
}

/// The kind with this class name.
pub fn find(class_name: &str) -> Result<&'static LayerKind> {
    kinds().find(|k| k.class_name == class_name).ok_or_else(|| unknown(class_name))
}

/// The kind of a `model.json` version 1 type name: the class name in camelCase
/// (`maxPooling2d`), so it matches without regard to case.
pub fn find_v1(type_name: &str) -> Result<&'static LayerKind> {
    kinds().find(|k| k.class_name.eq_ignore_ascii_case(type_name)).ok_or_else(|| unknown(type_name))
}

fn unknown(class_name: &str) -> Error {
    let known: Vec<&str> = kinds().map(|k| k.class_name).collect();
    Error::argument(format!("unknown layer class '{class_name}' (known: {})", known.join(", ")))
}

/// Longest layer name; names prefix weight names, which the save format stores as keys.
pub const MAX_NAME_LEN: usize = 128;

/// Checks a user's layer name: it prefixes weight names (`name/kernel`) in files, so it may
/// hold letters, digits, `_`, `-` and `.` only, and not start with `.` or `-`.
pub fn check_name(name: &str) -> Result<()> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    let ok =
        !name.is_empty() && name.len() <= MAX_NAME_LEN && name.chars().all(ok_char) && !name.starts_with(['.', '-']);
    if !ok {
        return Err(Error::argument(format!(
            "invalid layer name {name:?}: use 1 to {MAX_NAME_LEN} letters, digits, '_', '-' or '.' \
             (not starting with '.' or '-'); it prefixes weight names such as '{}/kernel'",
            if name.is_empty() { "dense" } else { name }
        )));
    }
    Ok(())
}

/// Makes a layer of kind `class_name` from a user's options, which may also hold `name` and
/// `trainable`. Errors start with the layer (its name when given, else its kind).
pub fn create(class_name: &str, options: &Json) -> Result<Box<dyn Layer>> {
    let kind = find(class_name)?;
    let mut opts = as_object(options).map_err(|e| prefixed(kind.class_name, None, e))?.clone();
    let name = match opts.remove("name") {
        None | Some(Json::Null) => None,
        Some(Json::String(n)) => Some(n),
        Some(other) => {
            let e = Error::argument(format!("option 'name' must be a string, got {}", describe(&other)));
            return Err(prefixed(kind.class_name, None, e));
        }
    };
    if let Some(n) = &name {
        check_name(n).map_err(|e| prefixed(kind.class_name, None, e))?;
    }
    let trainable = match opts.remove("trainable") {
        None | Some(Json::Null) => true,
        Some(Json::Bool(t)) => t,
        Some(other) => {
            let e = Error::argument(format!("option 'trainable' must be true or false, got {}", describe(&other)));
            return Err(prefixed(kind.class_name, name.as_deref(), e));
        }
    };
    let mut layer = (kind.make)(&Json::Object(opts)).map_err(|e| prefixed(kind.class_name, name.as_deref(), e))?;
    layer.set_name(name.unwrap_or_default());
    layer.set_trainable(trainable);
    Ok(layer)
}

fn prefixed(class_name: &str, name: Option<&str>, e: Error) -> Error {
    let who = match name {
        Some(n) => format!("layer '{n}' ({class_name})"),
        None => class_name.to_string(),
    };
    Error { kind: e.kind, message: format!("{who}: {}", e.message) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::Activation;
    use serde_json::json;

    #[test]
    fn every_kind_round_trips_its_resolved_config() {
        let required = |class: &str| match class {
            "InputLayer" => json!({ "shape": [4, 4, 2] }),
            "Dense" => json!({ "units": 3 }),
            "Conv2D" => json!({ "filters": 2, "kernelSize": 3 }),
            "DepthwiseConv2D" => json!({ "kernelSize": 3 }),
            "SeparableConv2D" | "Conv2DTranspose" => json!({ "filters": 2, "kernelSize": 3 }),
            "Activation" => json!({ "activation": "relu" }),
            "Dropout" | "SpatialDropout2D" => json!({ "rate": 0.25 }),
            "Reshape" => json!({ "targetShape": [-1, 2] }),
            "Permute" => json!({ "dims": [2, 1] }),
            "Embedding" => json!({ "inputDim": 5, "outputDim": 2 }),
            "Rescaling" => json!({ "scale": 0.5 }),
            "RandomTranslation" => json!({ "heightFactor": 0.1, "widthFactor": [-0.2, 0.1] }),
            "RandomRotation" | "RandomBrightness" | "RandomContrast" => json!({ "factor": 0.2, "seed": 3 }),
            "RandomZoom" => json!({ "heightFactor": 0.2 }),
            "Resizing" | "RandomCrop" => json!({ "height": 3, "width": 2 }),
            _ => json!({}),
        };
        for kind in kinds() {
            let layer = create(kind.class_name, &required(kind.class_name)).unwrap();
            assert_eq!(layer.kind(), kind.class_name);
            let again = create(kind.class_name, &layer.config()).unwrap();
            assert_eq!(again.config(), layer.config(), "{}", kind.class_name);
        }
        assert_eq!(find_v1("maxPooling2d").unwrap().class_name, "MaxPooling2D");
        assert!(find("dense").is_err());
    }

    #[test]
    fn bad_options_are_typed_errors_naming_the_layer() {
        let err = |class: &str, v: Json| create(class, &v).err().unwrap().message;
        assert_eq!(err("Dense", json!({ "units": 3, "name": 5 })), "Dense: option 'name' must be a string, got 5");
        assert_eq!(
            err("Dense", json!({ "units": 3, "name": "d", "activation": 5 })),
            format!("layer 'd' (Dense): option 'activation' must be {}, got 5", Activation::EXPECTED)
        );
        assert!(err("Dense", json!({ "units": 3, "name": "a|b" })).starts_with("Dense: invalid layer name \"a|b\""));
        assert!(err("Dense", json!({ "units": 3, "name": "a/b" })).contains("invalid layer name"));
        assert!(err("Dense", json!({ "units": 0 })).contains("units must be at least 1"));
        assert!(err("Conv3D", json!({})).starts_with("unknown layer class 'Conv3D' (known: InputLayer, Dense"));
        assert!(err("MaxPooling2D", json!({ "poolSize": 2, "stride": 1 })).contains("unknown option 'stride'"));
    }
}
